"""Guards a real `pulumi preview --json` before it becomes an `up`, and summarises it for the PR comment.

    pulumi preview -s prod --json --policy-pack policies --policy-pack-config cfg.json > preview.json
    python -m tools.guard preview.json

Fails (exit 2) when an endpoint's identity would change, an endpoint would be replaced or deleted, or a
protected resource would be deleted; otherwise exit 0. Either way it prints a Markdown summary: the change
counts first, then only the changed resources with each changed property path, old -> new, replacements
called out. Exit 1 on unusable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.pulumi_json import Step, UnusableInput, format_path, load, parse_path, render, value_at

ENDPOINT_TYPES = {
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:BatchEndpoint",
}
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "read-replacement"}
DELETE_OPS = {"delete", "delete-replaced", "discard", "discard-replaced"}
UNCHANGED_OPS = {"same", "read", "refresh"}


def _state_props(state: dict | None) -> dict:
    return (state or {}).get("inputs") or (state or {}).get("outputs") or {}


def changes(step: Step) -> list[tuple[str, str, str]]:
    """(path, old, new) for every changed property of a step: detailedDiff paths, else diffReasons."""
    old, new = _state_props(step.old), _state_props(step.new)
    paths = list(step.detailed_diff) or list(step.diff_reasons) or list(step.replace_reasons)
    result = []
    for path in paths:
        parsed = parse_path(path)
        result.append((format_path(parsed), render(value_at(old, parsed)), render(value_at(new, parsed))))
    return result


def identity_changes(step: Step) -> bool:
    keys = [*step.detailed_diff, *step.diff_reasons, *step.replace_reasons]
    return step.type in ENDPOINT_TYPES and any(parse_path(k)[:1] == ["identity"] for k in keys)


def blockers(steps: list[Step]) -> list[str]:
    found = []
    for step in steps:
        if step.type in ENDPOINT_TYPES and identity_changes(step) and step.op not in UNCHANGED_OPS:
            found.append(f"`{step.name}`: the endpoint's identity would change; Azure cannot change it. Deploy a new endpoint under a new name instead.")
        if step.type in ENDPOINT_TYPES and step.op in REPLACE_OPS:
            found.append(f"`{step.name}`: the endpoint would be replaced ({step.op}); its scoring URI, keys and deployments go with it.")
        elif step.type in ENDPOINT_TYPES and step.op == "delete":
            found.append(f"`{step.name}`: the endpoint would be deleted, with its deployments.")
        if step.op in DELETE_OPS and (step.old or {}).get("protect"):
            found.append(f"`{step.name}`: a protected resource would be deleted ({step.op}).")
    return list(dict.fromkeys(found))  # a replacement shows in several steps; say it once


def summary(steps: list[Step], change_counts: dict[str, int]) -> str:
    changed = [s for s in steps if s.op not in UNCHANGED_OPS]
    lines = ["### Preview summary", ""]
    if change_counts:
        lines.append(", ".join(f"{op}: {n}" for op, n in sorted(change_counts.items())))
    else:
        lines.append(f"{len(changed)} changed resource step(s)")
    lines.append("")
    blocked = blockers(steps)
    if blocked:
        lines += ["**Blocked:**", ""] + [f"- {b}" for b in blocked] + [""]
    for step in changed:
        marker = " **(replacement)**" if step.op in REPLACE_OPS else ""
        lines.append(f"- `{step.op}` `{step.type}` `{step.name}`{marker}")
        if step.replace_reasons:
            lines.append(f"  - replaced because of: {', '.join(f'`{k}`' for k in step.replace_reasons)}")
        for path, old, new in changes(step):
            lines.append(f"  - `{path}`: {old} → {new}")
    if not changed:
        lines.append("No changes.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.guard", description=__doc__.split("\n\n")[0])
    parser.add_argument("preview", type=Path, help="output of `pulumi preview --json`")
    args = parser.parse_args(argv)
    try:
        document = load(args.preview.read_text())
    except (OSError, UnusableInput) as error:
        print(f"error: {args.preview}: {error}", file=sys.stderr)
        return 1
    print(summary(document.steps, document.change_summary))
    return 2 if blockers(document.steps) else 0


if __name__ == "__main__":
    sys.exit(main())
