"""What a config change would do to a stack, offline: the program run under the mocks for the old and the new config.

    azureml-endpoints plan-diff --stack staging --from-git origin/main [--to new.yaml] [--digest preview.json]
    azureml-endpoints plan-diff --stack staging --from old.yaml [--to new.yaml] [--digest preview.json]

`--from-git <rev>` evaluates the project as it is at that git revision (its stack file, and the model, code
and data files that config names, read from git into a temporary copy), so a model retrained in place under a
new version diffs against the files of its old version. `--from` is a stack file before the change, evaluated
against the working tree's files. `--to` is the stack file after (default Pulumi.<stack>.yaml). Resources are matched by URN and compared by their inputs,
as the engine does, with two approximations of the provider's diff, stated here because no engine runs:
a change to an input that names the Azure resource (its name, parents, scope, version or location) or to
a `replaceOnChanges` path is a replacement; a path in `ignoreChanges` is no change. `--digest` writes the
result in the shape of `pulumi preview --json`, so `azureml-endpoints guard` reads it as it reads a real preview.
Exit codes: 0 the diff was computed, 1 either config or the program failed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.offline.arm_mocks import Registration
from azureml_endpoints.offline.evaluate import Evaluation, evaluate
from azureml_endpoints.offline.resource_types import preview_line
from azureml_endpoints.paths import PROGRAM, project_dir
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic, write_stdout
from azureml_endpoints.pulumi_io.stack_files import StackFileError, read_stack_file, stack_config

# Inputs that make up an Azure resource's id (or fix where it lives): changing one means another resource.
NAMING_INPUTS = {
    "resourceGroupName",
    "workspaceName",
    "endpointName",
    "deploymentName",
    "computeName",
    "name",
    "version",
    "accountName",
    "containerName",
    "blobName",
    "resourceName",
    "roleAssignmentName",
    "scope",
    "vaultName",
    "keyName",
    "roleDefinitionId",
    "location",
}
SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
# An asset version's ARM id ("Microsoft.MachineLearningServices workspaces/models/versions" and its code and
# environment siblings), shown as the asset it names, never cut: the version is at its end.
ASSET_VERSION_ID = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+/"
    r"(?P<kind>models|codes|environments)/(?P<name>[^/]+)/versions/(?P<version>[^/]+)",
    re.IGNORECASE,
)
ASSET_KINDS = {"models": "model", "codes": "code", "environments": "environment"}


def differences(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, kind) for each leaf that differs; paths as Pulumi's detailedDiff writes them (`a.b[0].c`). A file
    asset differs by its content, as the engine compares assets by hash, not by where the file is read from."""
    if _file_asset(old) and _file_asset(new):
        if _file_asset(old) != _file_asset(new):
            yield path, "update"
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            if key not in old:
                yield child, "add"
            elif key not in new:
                yield child, "delete"
            else:
                yield from differences(old[key], new[key], child)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new)):
            yield from differences(a, b, f"{path}[{index}]")
    elif old != new:
        yield path, "update"


def _file_asset(value: Any) -> str | None:
    """The SHA-256 of a `{"fileAsset": path}` input's file (a missing file hashes as its path), else None."""
    if not (isinstance(value, dict) and set(value) == {"fileAsset"} and isinstance(value["fileAsset"], str)):
        return None
    try:
        return hashlib.sha256(Path(value["fileAsset"]).read_bytes()).hexdigest()
    except OSError:
        return value["fileAsset"]


def _under(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in prefixes)


def step_for(old: Registration | None, new: Registration | None) -> dict[str, Any]:
    """One step of a preview digest for a resource before (`old`) and after (`new`)."""
    if old is None:
        return {"op": "create", "urn": new.urn, "newState": _state(new)}
    if new is None:
        return {"op": "delete", "urn": old.urn, "oldState": _state(old)}
    diff = {p: k for p, k in differences(old.inputs, new.inputs) if not _under(p, new.ignore_changes)}
    if not diff:
        return {"op": "same", "urn": new.urn, "oldState": _state(old), "newState": _state(new)}
    replace = [p for p in diff if p.split(".")[0].split("[")[0] in NAMING_INPUTS or _under(p, new.replace_on_changes)]
    detailed = {p: {"kind": f"{k}-replace" if p in replace else k, "inputDiff": True} for p, k in diff.items()}
    return {
        "op": "replace" if replace else "update",
        "urn": new.urn,
        "oldState": _state(old),
        "newState": _state(new),
        "diffReasons": sorted({p.split(".")[0].split("[")[0] for p in diff}),
        "replaceReasons": sorted({p.split(".")[0].split("[")[0] for p in replace}),
        "detailedDiff": detailed,
    }


def _state(r: Registration) -> dict[str, Any]:
    return {"urn": r.urn, "type": r.type, "custom": r.custom, "inputs": r.inputs, "outputs": r.outputs, "protect": r.protect}


def digest(before: Evaluation, after: Evaluation) -> dict[str, Any]:
    """The change as `pulumi preview --json` writes it: steps in program order, deletions last, and the counts."""
    old_by_urn, new_by_urn = before.by_urn(), after.by_urn()
    steps = [step_for(old_by_urn.get(r.urn), r) for r in after.registrations]
    steps += [step_for(r, None) for r in before.registrations if r.urn not in new_by_urn]
    summary: dict[str, int] = {}
    for step in steps:
        summary[step["op"]] = summary.get(step["op"], 0) + 1
    return {"steps": steps, "changeSummary": summary}


def render(document: dict[str, Any], after: Evaluation, before: Evaluation) -> str:
    """The changed resources with their details after the change and each changed input path."""
    registrations = {**before.by_urn(), **after.by_urn()}
    lines = []
    for step in document["steps"]:
        if step["op"] == "same":
            continue
        r = registrations[step["urn"]]
        shown = preview_line(r) if step["op"] != "delete" else ""
        lines.append(f" {SYMBOLS[step['op']]:>2} {r.type}    {r.name}" + (f"    [{shown}]" if shown else ""))
        old, new = (step.get("oldState") or {}).get("inputs"), (step.get("newState") or {}).get("inputs")
        for path, diff in (step.get("detailedDiff") or {}).items():
            lines.append(
                f"        {path}: {_value(old, path)} → {_value(new, path)}" + (" (replace)" if diff["kind"].endswith("-replace") else "")
            )
    counts = ", ".join(f"{n} to {op}" for op, n in sorted(document["changeSummary"].items()) if op != "same")
    return "\n".join(lines + ["", f"Resources: {counts or 'no changes'}; {document['changeSummary'].get('same', 0)} unchanged"])


def _value(inputs: dict | None, path: str) -> str:
    value: Any = inputs
    for part in path.replace("[", ".[").split("."):
        if value is None:
            break
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "(absent)"
    if isinstance(value, str) and (asset := ASSET_VERSION_ID.fullmatch(value)):
        return f"{ASSET_KINDS[asset['kind'].lower()]} {asset['name']}:{asset['version']}"
    if isinstance(value, str) and value.startswith("azureml://registries/"):
        return value
    text = value if isinstance(value, str) else json.dumps(_whole_numbers(value))
    return text if len(text) <= 120 else text[:117] + "..."


def _whole_numbers(value: Any) -> Any:
    """The engine sends numbers as floats; 10.0 reads as the 10 the stack file says."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _config(path: Path) -> dict[str, Any]:
    """As the CLI reads it, with the reader every tool shares (azureml_endpoints.pulumi_io.stack_files)."""
    return read_stack_file(path)


class GitRevisionError(Exception):
    """A revision whose project files cannot be read from git."""


def project_at(revision: str, into: Path) -> Path:
    """The project directory as it is at `revision`, written under `into`: every file git holds under it there."""
    root = project_dir()
    git = ["git", "-C", str(root)]
    try:
        prefix = subprocess.run([*git, "rev-parse", "--show-prefix"], capture_output=True, text=True, check=True).stdout.strip()
        archive = subprocess.run([*git, "archive", "--format=tar", f"{revision}:{prefix}"], capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise GitRevisionError("--from-git needs git on the PATH") from None
    except subprocess.CalledProcessError as failed:
        said = (failed.stderr.decode(errors="replace") if isinstance(failed.stderr, bytes) else failed.stderr or "").strip()
        raise GitRevisionError(f"--from-git {revision}: {said.splitlines()[0] if said else 'git failed'}") from None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")  # refuses links and paths that leave `into`
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints plan-diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: the URNs and the workspace come from it")
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument("--from", dest="before", type=Path, help="the stack file before the change (working-tree files)")
    base.add_argument("--from-git", dest="revision", help="a git revision: the project as it is there, with its own files")
    parser.add_argument("--to", dest="after", type=Path, help="the stack file after the change (default Pulumi.<stack>.yaml)")
    parser.add_argument(
        "--digest", type=Path, help="also write the change as `pulumi preview --json` does, for azureml_endpoints.cli.guard"
    )
    args = parser.parse_args(argv)
    program = project_dir() / "__main__.py" if (project_dir() / "__main__.py").is_file() else PROGRAM
    try:
        with tempfile.TemporaryDirectory(prefix="plan-diff-") as temporary:
            after_config = _config(args.after) if args.after else stack_config(args.stack)
            if args.revision is None:
                before = evaluate(args.stack, config=_config(args.before), raise_errors=False)
            else:  # today's program over the revision's files: only the config and its files differ
                base_project = project_at(args.revision, Path(temporary))
                base_config = _config(base_project / f"Pulumi.{args.stack}.yaml")
                before = evaluate(args.stack, config=base_config, raise_errors=False, program=program, project_dir=base_project)
            after = evaluate(args.stack, config=after_config, raise_errors=False)
            for label, evaluation in (("--from-git" if args.revision else "--from", before), ("--to", after)):
                if evaluation.error is not None:
                    kind = "" if isinstance(evaluation.error, SettingsError) else f"{type(evaluation.error).__name__}: "
                    print(f"error: {label}: {kind}{evaluation.error}", file=sys.stderr)
                    return 1
            document = digest(before, after)  # while the revision's files exist: assets compare by content
    except (OSError, StackFileError, GitRevisionError, tarfile.TarError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.digest:
        try:
            args.digest.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(args.digest, json.dumps(document, indent=2))
        except (OSError, WriteFailed) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if not write_stdout(render(document, after, before)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
