#!/usr/bin/env bash
# Installs the Pulumi CLI and the azure-native and azuread provider plugins at the versions and sha256 checksums
# committed in .github/pulumi-checksums.txt, and nothing else: the CLI tarball is checked before it is unpacked,
# each plugin by `pulumi plugin install --checksum`, and automatic plugin downloads are turned off for the job's
# later steps. Any line without a 64-hex checksum, a download that fails or a mismatch stops the job.
#   usage: install-pulumi.sh [checksums file] [install dir]   (defaults: .github/pulumi-checksums.txt, $RUNNER_TEMP/pulumi)
set -euo pipefail

sums="${1:-.github/pulumi-checksums.txt}"
dest="${2:-${RUNNER_TEMP:-/tmp}/pulumi}"
mkdir -p "$dest"

cli_sum="" cli_file=""
plugins=()
while read -r sum file; do
  [[ -z "$sum" || "$sum" == \#* ]] && continue
  if ! [[ "$sum" =~ ^[0-9a-f]{64}$ ]]; then
    echo "::error::no committed sha256 for $file in $sums: copy it from the release's checksums file (docs/security.md#the-toolchain)" >&2
    exit 1
  fi
  if [[ "$file" =~ ^pulumi-v([0-9]+\.[0-9]+\.[0-9]+)-linux-x64\.tar\.gz$ ]]; then
    cli_sum="$sum" cli_file="$file"
  elif [[ "$file" =~ ^pulumi-resource-([a-z-]+)-v([0-9]+\.[0-9]+\.[0-9]+)-linux-amd64\.tar\.gz$ ]]; then
    plugins+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]} $sum")
  else
    echo "::error::$sums: unexpected file name $file" >&2
    exit 1
  fi
done < "$sums"
if [[ -z "$cli_file" || ${#plugins[@]} -eq 0 ]]; then
  echo "::error::$sums lists no CLI or no plugin" >&2
  exit 1
fi

curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --retry 3 \
  --output "$dest/$cli_file" "https://get.pulumi.com/releases/sdk/$cli_file"
(cd "$dest" && echo "$cli_sum  $cli_file" | sha256sum --check --strict --quiet -)
tar -xzf "$dest/$cli_file" -C "$dest"
export PATH="$dest/pulumi:$PATH"
for plugin in "${plugins[@]}"; do
  read -r name version sum <<< "$plugin"
  pulumi plugin install resource "$name" "$version" --exact --checksum "$sum"
done

if [[ -n "${GITHUB_PATH:-}" ]]; then echo "$dest/pulumi" >> "$GITHUB_PATH"; fi
# The engine would otherwise download any plugin a program asks for, unchecked.
if [[ -n "${GITHUB_ENV:-}" ]]; then echo "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" >> "$GITHUB_ENV"; fi
pulumi version
