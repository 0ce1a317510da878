"""Drift report from a refresh preview: what changed in Azure outside Pulumi.

    pulumi refresh -s prod --preview-only --json > refresh.json     # or: pulumi preview --refresh --json
    python -m tools.drift refresh.json [--ignore tools/drift_ignore.yaml]

Reads both shapes the CLI emits (the single JSON document with `steps`, and the JSON-lines engine event
stream, where a refresh's result arrives in the output event), tolerating fields and operations it does not
know. Prints a Markdown report: drifted resources with each property path, recorded -> actual; resources
deleted outside Pulumi; identity drift on an endpoint flagged critical. Known noise (tools/drift_ignore.yaml)
is ignored. Exit codes: 0 no drift, 2 drift, 1 unusable input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.pulumi_json import MISSING, Step, UnusableInput, changed_paths, format_path, load, parse_path, render, value_at

DEFAULT_IGNORE = Path(__file__).resolve().parent / "drift_ignore.yaml"
ENDPOINT_TYPES = {
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:BatchEndpoint",
}
DRIFT_OPS = {"refresh", "update", "replace", "delete", "same"}  # what a refresh reports per resource


@dataclass
class Drift:
    name: str
    type: str
    urn: str
    deleted: bool = False
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (path, recorded, actual)

    @property
    def critical(self) -> bool:
        return self.type in ENDPOINT_TYPES and (self.deleted or any(p.startswith("identity") for p, _, _ in self.changes))


def load_ignore(path: Path) -> dict[str, list[list[str | int]]]:
    raw = yaml.safe_load(path.read_text()) or {}
    return {t: [parse_path(p) for p in paths or []] for t, paths in raw.items()}


def _ignored(type_: str, path: list, ignore: dict[str, list[list]]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in ignore.get("*", []) + ignore.get(type_, []))


def _state(state: dict | None) -> dict:
    return (state or {}).get("outputs") or {}


def drift_of(step: Step, ignore: dict[str, list[list]]) -> Drift | None:
    if step.op not in DRIFT_OPS or not step.old or not step.old.get("custom", True):
        return None
    if step.type.startswith("pulumi:providers:") or step.type == "pulumi:pulumi:Stack":
        return None
    drift = Drift(step.name, step.type, step.urn)
    if step.new is None or step.op == "delete":
        if step.op in ("refresh", "delete"):
            drift.deleted = True
            return drift
        return None
    recorded, actual = _state(step.old), _state(step.new)
    paths = changed_paths(recorded, actual)
    # The engine's own diff may name paths the outputs do not show (for example inside secrets).
    paths += [parse_path(p) for p in step.detailed_diff if parse_path(p) not in paths]
    for path in paths:
        if _ignored(step.type, path, ignore):
            continue
        old, new = value_at(recorded, path), value_at(actual, path)
        if old is MISSING and new is MISSING:
            continue
        drift.changes.append((format_path(path), render(old), render(new)))
    return drift if drift.changes else None


def report(drifts: list[Drift], stack: str | None) -> str:
    title = f"## Drift report{f': `{stack}`' if stack else ''}"
    if not drifts:
        return f"{title}\n\nNo drift: Azure matches the recorded state.\n"
    critical = [d for d in drifts if d.critical]
    deleted = [d for d in drifts if d.deleted]
    changed = [d for d in drifts if not d.deleted]
    lines = [title, "", f"{len(drifts)} resource(s) drifted: {len(changed)} changed, {len(deleted)} deleted outside Pulumi."]
    if critical:
        lines += ["", "### Critical", ""]
        for d in critical:
            what = "deleted outside Pulumi" if d.deleted else "identity changed outside Pulumi"
            lines.append(f"- **`{d.name}`** ({d.type}): endpoint {what}. Its identity decides what it may read; "
                         "restore it with `pulumi up --refresh`, or replace the endpoint under a new name.")
    if changed:
        lines += ["", "### Changed", ""]
        for d in changed:
            lines.append(f"- `{d.name}` ({d.type})")
            lines += [f"  - `{path}`: {old} → {new}" for path, old, new in d.changes]
    if deleted:
        lines += ["", "### Deleted outside Pulumi", ""] + [f"- `{d.name}` ({d.type})" for d in deleted]
    lines += [
        "",
        "Remediate: `pulumi up --refresh -s <stack>` puts Azure back to the program, or adopt the change in the "
        "stack config and the program, then `pulumi refresh`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="output of `pulumi refresh --preview-only --json` or `pulumi preview --refresh --json`")
    parser.add_argument("--ignore", type=Path, default=DEFAULT_IGNORE, help="known-noise property paths per type")
    parser.add_argument("--stack", help="stack name for the report title")
    args = parser.parse_args(argv)
    try:
        document = load(args.input.read_text())
        ignore = load_ignore(args.ignore)
    except (OSError, UnusableInput, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    drifts = [d for d in (drift_of(s, ignore) for s in document.steps) if d is not None]
    print(report(drifts, args.stack))
    return 2 if drifts else 0


if __name__ == "__main__":
    sys.exit(main())
