"""Drift report from a refresh: what changed in Azure outside Pulumi.

    PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true pulumi refresh -s prod --preview-only --json > refresh.json
    # or: pulumi preview -s prod --refresh --json > refresh.json (a digest: differences, not drift)
    azureml-endpoints drift refresh.json [--ignore azureml_endpoints/cli/drift_ignore.yaml]

In an engine event stream, drift is what the refresh events found: each `refresh` pre-event's result
arrives in the output event that follows it (`same`, `update` with the recorded and the actual state, or
`delete`); the program's own planned steps in the same stream are not drift. The CLI writes a preview as
that stream only with PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true (pulumi/pulumi pkg/backend/display/
display.go); otherwise it writes a digest of pre-events only. A `preview --refresh` digest cannot tell drift
from the program's changes: its differences are reported from the engine's own detailedDiff (old value, new
value, kind) as differences between Azure and the program. A `refresh --preview-only` digest holds no
refresh results at all and is refused. A document that holds no refresh at all (a plain preview, an `up`) is refused, as is a failed
refresh (error diagnostics). Known noise (azureml_endpoints/cli/drift_ignore.yaml) is ignored. Values are shown in
Markdown code spans, so nothing Azure reports renders as a link or mention in the issue.
Exit codes: 0 no drift, 2 drift, 1 unusable input or a failed refresh (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from azureml_endpoints.pulumi_io.files import write_stdout
from azureml_endpoints.pulumi_io.pulumi_json import (
    MISSING,
    Document,
    Step,
    UnusableInput,
    changed_paths,
    code_span,
    format_path,
    markdown_value,
    one_line,
    parse_path,
    render_pair,
    value_at,
)

DEFAULT_IGNORE = Path(__file__).resolve().parent / "drift_ignore.yaml"
ENDPOINT_TYPES = {
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:BatchEndpoint",
}
PLANNED_CHANGES = {"update", "replace", "create-replacement"}  # digest steps whose detailedDiff is Azure vs program


@dataclass
class Drift:
    name: str
    type: str
    urn: str
    deleted: bool = False
    changes: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # (path, Azure had, now, kind)

    @property
    def critical(self) -> bool:
        return self.type in ENDPOINT_TYPES and (self.deleted or any(p.startswith("identity") for p, *_ in self.changes))


def load_ignore(path: Path) -> dict[str, list[list[str | int]]]:
    """Known-noise paths per type; a file of another shape is refused with one line (UnusableInput)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except yaml.YAMLError as error:
        raise UnusableInput(f"{path.name}: not YAML ({one_line(getattr(error, 'problem', None) or error)})") from None
    if not isinstance(raw, dict) or not all(
        isinstance(t, str) and isinstance(paths, (list, type(None))) and all(isinstance(p, str) for p in paths or [])
        for t, paths in raw.items()
    ):
        raise UnusableInput(f"{path.name}: must map resource types to lists of property paths")
    return {t: [parse_path(p) for p in paths or []] for t, paths in raw.items()}


def _ignored(type_: str, path: list, ignore: dict[str, list[list]]) -> bool:
    return any(path[: len(prefix)] == prefix for prefix in ignore.get("*", []) + ignore.get(type_, []))


def _outputs(state: dict | None) -> dict:
    return (state or {}).get("outputs") or {}


def _managed(step: Step) -> bool:
    return (step.old or step.new or {}).get("custom", True) is not False and not (
        step.type.startswith("pulumi:providers:") or step.type == "pulumi:pulumi:Stack"
    )


def refresh_drift(step: Step, ignore: dict[str, list[list]]) -> Drift | None:
    """What one refresh found (event streams): Azure's state against the recorded one."""
    if not _managed(step) or step.refresh_result == "same":
        return None
    drift = Drift(step.name, step.type, step.urn)
    if step.new is None or step.refresh_result == "delete":
        drift.deleted = True
        return drift
    recorded, actual = _outputs(step.old), _outputs(step.new)
    paths = changed_paths(recorded, actual)
    # The engine's own diff may name paths the outputs do not show (for example inside secrets).
    paths += [parse_path(p) for p in step.detailed_diff if parse_path(p) not in paths]
    for path in paths:
        if _ignored(step.type, path, ignore):
            continue
        old, new = value_at(recorded, path), value_at(actual, path)
        if old is MISSING and new is MISSING:
            continue
        drift.changes.append((format_path(path), *render_pair(old, new), None))
    return drift if drift.changes else None


def _lookup(state: dict | None, path: list) -> object:
    for part in ("outputs", "inputs"):
        found = value_at((state or {}).get(part) or {}, path)
        if found is not MISSING:
            return found
    return MISSING


def planned_difference(step: Step, ignore: dict[str, list[list]]) -> Drift | None:
    """A `preview --refresh` digest step: where the refreshed state (Azure) differs from the program."""
    if not _managed(step) or step.op not in PLANNED_CHANGES:
        return None
    drift = Drift(step.name, step.type, step.urn)
    for path_text in step.detailed_diff or {p: {} for p in step.diff_reasons}:
        path = parse_path(path_text)
        if _ignored(step.type, path, ignore):
            continue
        entry = step.detailed_diff.get(path_text)
        kind = entry.get("kind") if isinstance(entry, dict) and isinstance(entry.get("kind"), str) else "update"
        old = _lookup(step.old, path)
        new = value_at((step.new or {}).get("inputs") or {}, path)
        drift.changes.append((format_path(path), *render_pair(old, new), kind))
    return drift if drift.changes else None


def find_drift(document: Document, steps: Iterable[Step], ignore: dict[str, list[list]]) -> list[Drift]:
    """Drift from either shape, in one pass over the steps; refuses a document without any refresh."""
    found: dict[str, Drift] = {}  # by URN: a resource refreshed twice (a pending-delete copy) drifted if either found it
    refreshed_urns: set[str] = set()
    planned = False
    for step in steps:
        planned = planned or step.op != "refresh"
        if step.refresh_result is not None:
            drift = refresh_drift(step, ignore)
        elif document.shape == "digest" and step.op == "refresh":
            refreshed_urns.add(step.urn)
            drift = None
        elif document.shape == "digest" and step.op == "create" and step.urn in refreshed_urns and _managed(step):
            drift = Drift(step.name, step.type, step.urn, deleted=True)  # refreshed away: the program would re-create it
        elif document.shape == "digest":
            drift = planned_difference(step, ignore)
        else:
            drift = None  # the program's planned steps in an event stream are not drift
        if drift is not None:
            _merge(found, drift)
    if not document.refreshed:
        raise UnusableInput(
            "the document holds no refresh (a plain preview or an `up`?): give the output of "
            "`pulumi refresh --preview-only --json` or `pulumi preview --refresh --json`"
        )
    if document.shape == "digest" and not planned:
        raise UnusableInput(
            "a `refresh --preview-only` digest holds the refresh steps but not what they found (the CLI writes only "
            "pre-events into a digest): set PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true to get the engine event stream"
        )
    return list(found.values())


def _merge(found: dict[str, Drift], drift: Drift) -> None:
    known = found.get(drift.urn)
    if known is None:
        found[drift.urn] = drift
        return
    known.deleted = known.deleted or drift.deleted
    known.changes += [c for c in drift.changes if c not in known.changes]


def report(drifts: list[Drift], stack: str | None, shape: str = "events") -> str:
    title = f"## Drift report{f': {code_span(stack)}' if stack else ''}"
    if not drifts:
        return f"{title}\n\nNo drift: Azure matches the recorded state.\n"
    critical = [d for d in drifts if d.critical]
    deleted = [d for d in drifts if d.deleted]
    changed = [d for d in drifts if not d.deleted]
    lines = [title, "", f"{len(drifts)} resource(s) drifted: {len(changed)} changed, {len(deleted)} deleted outside Pulumi."]
    if shape == "digest":
        lines += [
            "",
            "From a `preview --refresh` digest, which cannot tell drift from the program's own changes: each "
            "difference below is between Azure (as refreshed) and what the program declares, `Azure → program`.",
        ]
    if critical:
        lines += ["", "### Critical", ""]
        for d in critical:
            what = "deleted outside Pulumi" if d.deleted else "identity changed outside Pulumi"
            lines.append(
                f"- **{code_span(d.name)}** ({code_span(d.type)}): endpoint {what}. Its identity decides what it may read; "
                "restore it with `pulumi up --refresh`, or replace the endpoint under a new name."
            )
    if changed:
        lines += ["", "### Changed" if shape != "digest" else "### Differences between Azure and the program", ""]
        for d in changed:
            lines.append(f"- {code_span(d.name)} ({code_span(d.type)})")
            for path, old, new, kind in d.changes:
                suffix = f" ({kind})" if kind else ""
                lines.append(f"  - {code_span(path)}: {markdown_value(old)} → {markdown_value(new)}{suffix}")
    if deleted:
        lines += ["", "### Deleted outside Pulumi", ""] + [f"- {code_span(d.name)} ({code_span(d.type)})" for d in deleted]
    lines += [
        "",
        "Remediate: `pulumi up --refresh -s <stack>` puts Azure back to the program, or adopt the change in the "
        "stack config and the program, then `pulumi refresh`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints drift", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="output of `pulumi refresh --preview-only --json` or `pulumi preview --refresh --json`")
    parser.add_argument("--ignore", type=Path, default=DEFAULT_IGNORE, help="known-noise property paths per type")
    parser.add_argument("--stack", help="stack name for the report title")
    args = parser.parse_args(argv)
    document = Document(args.input)
    try:
        ignore = load_ignore(args.ignore)
        drifts = find_drift(document, document.steps(), ignore)
    except (OSError, UnusableInput) as error:
        print(f"error: {one_line(args.input)}: {one_line(error)}", file=sys.stderr)
        return 1
    if document.errors:
        more = f" (and {len(document.errors) - 1} more errors)" if len(document.errors) > 1 else ""
        print(f"error: {one_line(args.input)}: the refresh failed: {document.errors[0]}{more}", file=sys.stderr)
        return 1
    if not write_stdout(report(drifts, args.stack, document.shape or "events")):
        return 1
    return 2 if drifts else 0


if __name__ == "__main__":
    sys.exit(main())
