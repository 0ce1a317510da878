"""Reads the JSON the Pulumi CLI emits for previews and refreshes, in both of its shapes.

- The single document of `pulumi preview --json` / `pulumi refresh --preview-only --json` (the preview
  digest: `steps` of {op, urn, oldState, newState, diffReasons, replaceReasons, detailedDiff}).
- The JSON-lines engine event stream (apitype.EngineEvent: `resourcePreEvent`, `resOutputsEvent`, ...),
  where a refresh's result arrives in the output event.

Unknown fields and operations are carried along untouched; only a document with neither shape is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

SECRET_SIG = "4dabf18193072939515e22adb298388d"
MISSING = object()


class UnusableInput(ValueError):
    """Neither a preview digest nor an engine event stream."""


@dataclass
class Step:
    op: str
    urn: str
    type: str
    old: Optional[dict]  # the state before: ResourceV3 / StepEventStateMetadata
    new: Optional[dict]  # the state after
    detailed_diff: dict[str, dict] = field(default_factory=dict)
    diff_reasons: list[str] = field(default_factory=list)
    replace_reasons: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


@dataclass
class Document:
    shape: str  # "digest" or "events"
    steps: list[Step]
    change_summary: dict[str, int]


def load(text: str) -> Document:
    """Either shape as steps plus the engine's change counts; raises UnusableInput."""
    stripped = text.strip()
    if not stripped:
        raise UnusableInput("the input is empty")
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        document = MISSING
    if isinstance(document, dict) and not any(k.endswith("Event") for k in document):
        if "steps" not in document and "changeSummary" not in document:
            raise UnusableInput("a JSON object with neither 'steps' nor 'changeSummary': not a preview document")
        steps = [_digest_step(s) for s in document.get("steps") or [] if isinstance(s, dict)]
        return Document("digest", steps, dict(document.get("changeSummary") or {}))
    summary: dict[str, int] = {}
    steps = _event_steps(stripped, summary)
    return Document("events", steps, summary)


def _digest_step(s: dict) -> Step:
    old, new = s.get("oldState"), s.get("newState")
    urn = s.get("urn") or (new or old or {}).get("urn", "")
    return Step(
        op=s.get("op", ""),
        urn=urn,
        type=(new or old or {}).get("type") or urn_type(urn),
        old=old,
        new=new,
        detailed_diff=s.get("detailedDiff") or {},
        diff_reasons=list(s.get("diffReasons") or []),
        replace_reasons=list(s.get("replaceReasons") or []),
    )


def _events(text: str) -> Iterator[dict]:
    parsed = 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            raise UnusableInput(f"line {parsed + 1} is not JSON: {error}") from None
        if not isinstance(event, dict):
            raise UnusableInput(f"line {parsed + 1} is not an engine event object")
        parsed += 1
        yield event


def _event_steps(text: str, summary: dict[str, int]) -> list[Step]:
    """One step per resource operation: the pre-event's view, completed by its output event.

    The summary event's resource changes are copied into `summary`.
    """
    steps: dict[tuple[str, str], Step] = {}
    seen_engine_event = False
    for event in _events(text):
        if isinstance(event.get("summaryEvent"), dict):
            summary.update(event["summaryEvent"].get("resourceChanges") or {})
        kind = next((k for k in ("resourcePreEvent", "resOutputsEvent") if k in event), None)
        if kind is None:
            seen_engine_event = seen_engine_event or any(k.endswith("Event") for k in event)
            continue
        seen_engine_event = True
        m = event[kind].get("metadata") or {}
        op, urn = m.get("op", ""), m.get("urn", "")
        key = (op, urn)
        step = steps.get(key)
        if step is None:
            step = steps[key] = Step(op=op, urn=urn, type=m.get("type") or urn_type(urn), old=m.get("old"), new=m.get("new"))
        if kind == "resOutputsEvent":
            step.new = m.get("new")  # the result: for a refresh, the state Azure actually has (None: gone)
            step.old = step.old or m.get("old")
        step.detailed_diff = m.get("detailedDiff") or step.detailed_diff
        step.diff_reasons = list(m.get("diffs") or step.diff_reasons)
        step.replace_reasons = list(m.get("keys") or step.replace_reasons)
    if not seen_engine_event:
        raise UnusableInput("no engine events found")
    return list(steps.values())


# --- values and paths ---------------------------------------------------------------------------------------------


_PATH_TOKEN = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.\[\]]+)')


def parse_path(path: str) -> list[str | int]:
    """Pulumi property paths: `a.b[0]["c.d"]`."""
    return [
        json.loads(f'"{quoted}"') if quoted is not None else int(index) if index is not None else name
        for quoted, index, name in ((m.group(1), m.group(2), m.group(3)) for m in _PATH_TOKEN.finditer(path))
    ]


def value_at(value: Any, path: list[str | int]) -> Any:
    for key in path:
        if is_secret(value):
            return value
        if isinstance(key, int) and isinstance(value, list) and key < len(value):
            value = value[key]
        elif isinstance(key, str) and isinstance(value, dict) and key in value:
            value = value[key]
        else:
            return MISSING
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def render(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if is_secret(value) or value == "[secret]":
        return "[secret]"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def format_path(path: list[str | int]) -> str:
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_$][\w$-]*", key):
            out += ("." if out else "") + key
        else:
            out += f"[{json.dumps(key)}]"
    return out


def changed_paths(old: Any, new: Any, prefix: Optional[list] = None) -> list[list[str | int]]:
    """Leaf paths where two values differ (secrets compare only by being secret on both sides)."""
    prefix = prefix or []
    if is_secret(old) and is_secret(new):
        return []
    if isinstance(old, dict) and isinstance(new, dict) and not is_secret(old) and not is_secret(new):
        paths = []
        for key in sorted(set(old) | set(new)):
            paths += changed_paths(old.get(key, MISSING), new.get(key, MISSING), prefix + [key])
        return paths
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        paths = []
        for i, (a, b) in enumerate(zip(old, new)):
            paths += changed_paths(a, b, prefix + [i])
        return paths
    return [] if old == new else [prefix]
