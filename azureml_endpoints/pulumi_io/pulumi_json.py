"""Reads the JSON the Pulumi CLI emits for previews and refreshes, in both of its shapes, as a stream.

- The single document of `pulumi preview --json` (display.PreviewDigest, pkg/backend/display/json.go:
  `steps` of {op, urn, oldState, newState, diffReasons, replaceReasons, detailedDiff}, `diagnostics`,
  `changeSummary`), built from the engine's resource pre-events only.
- The JSON-lines engine event stream (apitype.EngineEvent: `resourcePreEvent`, `resOutputsEvent`,
  `diagnosticEvent`, `summaryEvent`, ...). A refresh shows as a pre-event with op `refresh` and its result
  as the following output event for the same URN, whose op says what the refresh found (`same`, `update`,
  `delete`): pulumi/pulumi pkg/engine/lifecycletest/testdata/output/TestRefreshBasics.

The input is read in bounded memory: one step or event at a time (at most MAX_ELEMENT_CHARS each), never
the whole document. UTF-8 (with or without BOM) and UTF-16 (what Windows PowerShell 5.1's `>` writes)
are read; anything else, including NaN, binary, nesting deeper than MAX_DEPTH and values of the wrong
type, is UnusableInput with a one-line message. Unknown fields and operations are carried along untouched.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # the special-signature key (sdk/go/common/resource/sig)
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"  # its value for a secret (assets, archives... have others)
UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's placeholder for a value known after apply
MISSING = object()
MAX_DEPTH = 100  # Pulumi's own documents nest a few dozen levels at most
MAX_ELEMENT_CHARS = 64 * 1024 * 1024  # one step or event; a larger one is refused, so memory stays bounded
_CHUNK = 1 << 20
_DIGEST_KEYS = {"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}
_COLOR = re.compile(r"<\{%[^%]*%\}>")


class UnusableInput(ValueError):
    """Not a preview digest or engine event stream this tool can read; the message is one line."""


def one_line(text: str, limit: int = 300) -> str:
    """Text safe to print as one line: control characters escaped, cut when long."""
    text = repr(str(text))[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Step:
    op: str
    urn: str
    type: str
    old: dict | None  # the state before: ResourceV3 / StepEventStateMetadata
    new: dict | None  # the state after
    detailed_diff: dict[str, dict] = field(default_factory=dict)
    diff_reasons: list[str] = field(default_factory=list)
    replace_reasons: list[str] = field(default_factory=list)
    refresh_result: str | None = None  # event streams: what a refresh found (same, update, delete)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


# --- reading text in bounded memory --------------------------------------------------------------------------------


def open_text(path: Path) -> io.TextIOBase:
    """The file as text: UTF-8 (BOM optional) or UTF-16 (BOM, or NULs that betray it); strict decoding."""
    raw = open(path, "rb")
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif len(head) >= 2 and head[0] != 0 and head[1] == 0:
        encoding = "utf-16-le"
    elif len(head) >= 2 and head[0] == 0 and head[1] != 0:
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")


def _refuse_constant(name: str) -> None:
    raise UnusableInput(f"{name} is not JSON (the Pulumi CLI never writes it)")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_WS = re.compile(r"[ \t\n\r]*")


class _Text:
    """A sliding window over a text stream, decoding one JSON value at a time."""

    def __init__(self, stream: io.TextIOBase):
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.eof = False

    def _more(self) -> None:
        try:
            chunk = self.stream.read(_CHUNK)
        except UnicodeDecodeError as error:
            raise UnusableInput(f"not UTF-8 or UTF-16 text ({error.reason} at byte {error.start})") from None
        if not chunk:
            self.eof = True
        if self.pos > _CHUNK:
            self.text, self.pos = self.text[self.pos :], 0
        self.text += chunk

    def peek(self) -> str:
        """The next character that is not whitespace ('' at the end)."""
        while True:
            self.pos = _WS.match(self.text, self.pos).end()
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self._more()

    def expect(self, char: str, where: str) -> None:
        found = self.peek()
        if found != char:
            raise UnusableInput(f"{where}: expected {char!r}, found {found[:1]!r}" if found else f"{where}: the input ends early")
        self.pos += 1

    def value(self, where: str) -> Any:
        """The next JSON value; reads more while it is cut off, up to MAX_ELEMENT_CHARS."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end == len(self.text) and not self.eof and not isinstance(value, (dict, list, str)):
                    raise ValueError("a number may continue")
            except RecursionError:
                raise UnusableInput(f"{where}: nested too deeply to be a Pulumi document") from None
            except UnusableInput:
                raise
            except ValueError as error:
                if self.eof:
                    message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
                    raise UnusableInput(f"{where} is not JSON: {one_line(message)}") from None
                if len(self.text) - self.pos > MAX_ELEMENT_CHARS:
                    raise UnusableInput(f"{where} is larger than {MAX_ELEMENT_CHARS // 2**20} MiB") from None
                self._more()
                continue
            self.pos = end
            return value


# --- shapes --------------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _check(value: Any, expected: type | tuple, where: str, optional: bool = True) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, expected) or (
        isinstance(value, bool) and bool not in (expected if isinstance(expected, tuple) else (expected,))
    ):
        names = " or ".join(_kind(t()) for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise UnusableInput(f"{where} is {_kind(value)}, not {names}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    for i, item in enumerate(_check(value, list, where) or []):
        _check(item, str, f"{where}[{i}]", optional=False)
    return list(value or [])


def _diff(value: Any, where: str) -> dict[str, dict]:
    for path, entry in (_check(value, dict, where) or {}).items():
        _check(entry, dict, f"{where}[{json.dumps(path)}]", optional=False)
    return dict(value or {})


def _state(value: Any, where: str) -> dict | None:
    state = _check(value, dict, where)
    if state is not None:
        for part in ("inputs", "outputs"):
            _check(state.get(part), dict, f"{where}.{part}")
        _check(state.get("type"), str, f"{where}.type")
    return state


def _digest_step(s: Any, where: str) -> Step:
    _check(s, dict, where, optional=False)
    old, new = _state(s.get("oldState"), f"{where}.oldState"), _state(s.get("newState"), f"{where}.newState")
    urn = _check(s.get("urn"), str, f"{where}.urn") or (new or old or {}).get("urn") or ""
    _check(urn, str, f"{where}.urn")
    return Step(
        op=_check(s.get("op"), str, f"{where}.op") or "",
        urn=urn,
        type=(new or old or {}).get("type") or urn_type(urn),
        old=old,
        new=new,
        detailed_diff=_diff(s.get("detailedDiff"), f"{where}.detailedDiff"),
        diff_reasons=_strings(s.get("diffReasons"), f"{where}.diffReasons"),
        replace_reasons=_strings(s.get("replaceReasons"), f"{where}.replaceReasons"),
    )


def _event_step(metadata: Any, where: str) -> Step:
    m = _check(metadata, dict, where, optional=False)
    urn = _check(m.get("urn"), str, f"{where}.urn") or ""
    return Step(
        op=_check(m.get("op"), str, f"{where}.op") or "",
        urn=urn,
        type=_check(m.get("type"), str, f"{where}.type") or urn_type(urn),
        old=_state(m.get("old"), f"{where}.old"),
        new=_state(m.get("new"), f"{where}.new"),
        detailed_diff=_diff(m.get("detailedDiff"), f"{where}.detailedDiff"),
        diff_reasons=_strings(m.get("diffs"), f"{where}.diffs"),
        replace_reasons=_strings(m.get("keys"), f"{where}.keys"),
    )


def _counts(value: Any, where: str) -> dict[str, int]:
    for op, n in (_check(value, dict, where) or {}).items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise UnusableInput(f"{where}.{op} is {_kind(n)} {one_line(json.dumps(n), 40)}, not a count")
    return dict(value or {})


def _diagnostic(value: Any, where: str) -> str | None:
    """The message of an error diagnostic, else None."""
    d = _check(value, dict, where, optional=False)
    if _check(d.get("severity"), str, f"{where}.severity") != "error":
        return None
    message = _check(d.get("message"), str, f"{where}.message") or ""
    return one_line(_COLOR.sub("", (_check(d.get("prefix"), str, f"{where}.prefix") or "") + message).strip())


class Document:
    """A preview digest or an event stream, read once, step by step (`steps()`).

    After `steps()` is exhausted: `shape` ("digest" or "events"), `change_summary` (the engine's counts),
    `errors` (error diagnostics: the preview or refresh failed) and `refreshed` (a refresh step was seen).
    """

    def __init__(self, path: Path):
        self.path = path
        self.shape: str | None = None
        self.change_summary: dict[str, int] = {}
        self.errors: list[str] = []
        self.refreshed = False

    def steps(self) -> Iterator[Step]:
        try:
            with open_text(self.path) as stream:
                text = _Text(stream)
                first = text.peek()
                if not first:
                    raise UnusableInput("the input is empty")
                if first != "{":
                    raise UnusableInput(f"the input starts with {first!r}: neither a preview document nor an engine event stream")
                if self._first_key(text) in _DIGEST_KEYS:
                    self.shape = "digest"
                    yield from self._digest(text)
                else:
                    self.shape = "events"
                    yield from self._events(text)
        except UnicodeError as error:
            raise UnusableInput(f"not UTF-8 or UTF-16 text ({one_line(error)})") from None

    @staticmethod
    def _first_key(text: _Text) -> str | None:
        start = text.pos
        text.pos += 1
        key = text.value("the first key") if text.peek() == '"' else None
        text.pos = start
        return key

    def _digest(self, text: _Text) -> Iterator[Step]:
        text.expect("{", "the preview document")
        seen_steps = False
        while text.peek() != "}":
            key = text.value("a key of the preview document")
            if not isinstance(key, str):
                raise UnusableInput("the preview document's keys must be strings")
            text.expect(":", f"after {key!r}")
            if key == "steps" and text.peek() == "[":
                seen_steps = True
                text.pos += 1
                index = 0
                while text.peek() != "]":
                    if index:
                        text.expect(",", f"after steps[{index - 1}]")
                    step = _digest_step(text.value(f"steps[{index}]"), f"steps[{index}]")
                    self.refreshed = self.refreshed or step.op == "refresh"
                    yield step
                    index += 1
                text.pos += 1
            else:
                value = text.value(key)
                if key == "steps" and value is not None:
                    _check(value, list, "steps")
                elif key == "changeSummary":
                    self.change_summary = _counts(value, key)
                elif key == "diagnostics":
                    for i, d in enumerate(_check(value, list, key) or []):
                        message = _diagnostic(d, f"diagnostics[{i}]")
                        if message is not None:
                            self.errors.append(message)
            if text.peek() == ",":
                text.pos += 1
            elif text.peek() != "}":
                raise UnusableInput(f"the preview document: expected ',' or '}}' after {key!r}")
        text.pos += 1
        if text.peek():
            raise UnusableInput("text after the preview document")
        if not seen_steps and not self.change_summary and not self.errors:
            raise UnusableInput("a JSON object with neither 'steps' nor 'changeSummary': not a preview document")

    def _events(self, text: _Text) -> Iterator[Step]:
        """Pre-events as steps; a refresh's output event as a step carrying the refresh's result.

        One URN can be refreshed more than once in a stream (a resource with a pending-delete copy: pulumi/pulumi
        TestRefreshBasics/0-0-0-preview), its pre-events before its results: each result is paired with the
        pending refresh of the same URN and id, else the earliest one."""
        pending_refresh: dict[str, list[Step]] = {}
        seen_engine_event = False
        line = 0
        while text.peek():
            line += 1
            where = f"event {line}"
            event = _check(text.value(where), dict, where, optional=False)
            kinds = [k for k in event if isinstance(k, str) and k.endswith("Event")]
            seen_engine_event = seen_engine_event or bool(kinds)
            if "summaryEvent" in event:
                summary = _check(event["summaryEvent"], dict, f"{where}.summaryEvent") or {}
                self.change_summary = _counts(summary.get("resourceChanges"), f"{where}.summaryEvent.resourceChanges")
            if "diagnosticEvent" in event:
                message = _diagnostic(event["diagnosticEvent"], f"{where}.diagnosticEvent")
                if message is not None:
                    self.errors.append(message)
            for kind in ("resourcePreEvent", "resOutputsEvent"):
                if kind not in event:
                    continue
                payload = _check(event[kind], dict, f"{where}.{kind}", optional=False)
                step = _event_step(payload.get("metadata"), f"{where}.{kind}.metadata")
                if kind == "resourcePreEvent":
                    if step.op == "refresh":
                        self.refreshed = True
                        pending_refresh.setdefault(step.urn, []).append(step)
                    else:
                        pending_refresh.pop(step.urn, None)
                    yield step
                elif pending_refresh.get(step.urn):
                    before = _pair(pending_refresh[step.urn], step)
                    yield Step(
                        op="refresh",
                        urn=step.urn,
                        type=step.type or before.type,
                        old=step.old or before.old,
                        new=step.new,
                        detailed_diff=step.detailed_diff,
                        diff_reasons=step.diff_reasons,
                        refresh_result=step.op or ("delete" if step.new is None else "update"),
                    )
        if not seen_engine_event:
            raise UnusableInput("no engine events found")


def _state_id(step: Step) -> object:
    return (step.old or step.new or {}).get("id")


def _pair(pending: list[Step], result: Step) -> Step:
    """Takes the pending refresh a result belongs to: the one of the same resource id, else the earliest."""
    same = [p for p in pending if _state_id(p) is not None and _state_id(p) == _state_id(result)]
    before = same[0] if same else pending[0]
    pending.remove(before)
    return before


def stream_array(path: Path, at: tuple[str, ...]) -> Iterator[Any]:
    """The items of the list at keys `at` of a JSON document, decoded one at a time (bounded memory).

    Every other value is decoded and dropped. UnusableInput when the document has no such list.
    """
    try:
        with open_text(path) as stream:
            text = _Text(stream)
            if not text.peek():
                raise UnusableInput("the input is empty")
            found = yield from _walk(text, at, "")
            if text.peek():
                raise UnusableInput("text after the JSON document")
    except UnicodeError as error:
        raise UnusableInput(f"not UTF-8 or UTF-16 text ({one_line(error)})") from None
    if not found:
        raise UnusableInput(f"no {at[0]!r} object" if len(at) > 1 else f"no {at[0]!r} list")


def _walk(text: _Text, at: tuple[str, ...], where: str) -> Iterator[Any]:
    if text.peek() != "{":
        text.value(where or "the document")
        return False
    text.pos += 1
    found = False
    while text.peek() != "}":
        key = text.value(f"a key of {where or 'the document'}")
        if not isinstance(key, str):
            raise UnusableInput(f"{where or 'the document'}: keys must be strings")
        text.expect(":", f"after {key!r}")
        here = f"{where}.{key}" if where else key
        if key == at[0] and len(at) == 1:
            if text.peek() != "[":
                raise UnusableInput(f"{here} is {_kind(text.value(here))}, not a list")
            text.pos += 1
            index = 0
            while text.peek() != "]":
                if index:
                    text.expect(",", f"after {here}[{index - 1}]")
                yield text.value(f"{here}[{index}]")
                index += 1
            text.pos += 1
            found = True
        elif key == at[0]:
            found = (yield from _walk(text, at[1:], here)) or found
        else:
            text.value(here)
        if text.peek() == ",":
            text.pos += 1
        elif text.peek() != "}":
            raise UnusableInput(f"{where or 'the document'}: expected ',' or '}}' after {key!r}")
    text.pos += 1
    return found


def load(path: Path) -> tuple[Document, list[Step]]:
    """Every step of a small document at once (tests, short tools); large documents go through steps()."""
    document = Document(path)
    return document, list(document.steps())


# --- values and paths ---------------------------------------------------------------------------------------------


_PATH_TOKEN = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.\[\]]+)')


def parse_path(path: str) -> list[str | int]:
    """Pulumi property paths: `a.b[0]["c.d"]`."""
    parsed: list[str | int] = []
    for m in _PATH_TOKEN.finditer(path):
        quoted, index, name = m.group(1), m.group(2), m.group(3)
        if quoted is not None:
            try:
                parsed.append(json.loads(f'"{quoted}"'))
            except ValueError:
                parsed.append(quoted)
        else:
            parsed.append(int(index) if index is not None else name)
    return parsed


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
    """A secret in state JSON (the signature object) or as the CLI's JSON output blinds it ("[secret]")."""
    return (isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG) or value == "[secret]"


def _too_deep() -> UnusableInput:
    return UnusableInput(f"a value nests deeper than {MAX_DEPTH} levels: not a Pulumi document")


def mask(value: Any, depth: int = 0) -> Any:
    """The value with every secret, at any depth, replaced by "[secret]", every unknown by a label, and whole
    numbers without the engine's `.0`."""
    if depth > MAX_DEPTH:
        raise _too_deep()
    if is_secret(value):
        return "[secret]"
    if value == UNKNOWN_VALUE:
        return "(known after apply)"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # the engine sends every number as a float: 10.0 reads as the 10 the stack file says
    if isinstance(value, dict):
        return {k: mask(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, depth + 1) for v in value]
    return value


LIMIT = 120


def render(value: Any) -> str:
    """A value as one line of text: secrets masked at any depth, unknowns labelled, cut when long."""
    if value is MISSING:
        return "(absent)"
    value = mask(value)
    if value == "[secret]":
        return "[secret]"
    if value == "(known after apply)":
        return "known after apply"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= LIMIT else text[: LIMIT - 3] + "..."


def render_pair(old: Any, new: Any) -> tuple[str, str]:
    """Both sides of a change; when both are long, each is cut around the first difference so it shows."""
    texts = []
    for value in (old, new):
        texts.append(
            None if value is MISSING or render(value) in ("[secret]", "known after apply") else json.dumps(mask(value), sort_keys=True)
        )
    a, b = texts
    if a is None or b is None or (len(a) <= LIMIT and len(b) <= LIMIT):
        return render(old), render(new)
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    start = max(0, first - LIMIT // 3)

    def window(text: str) -> str:
        cut = text[start : start + LIMIT]
        return ("..." if start else "") + cut + ("..." if start + LIMIT < len(text) else "")

    return window(a), window(b)


def code_span(text: str) -> str:
    """Markdown inline code that shows `text` literally: no link, mention or markup inside it can render."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_value(text: str) -> str:
    """A rendered value for Markdown: a value in a code span, the tool's own labels as plain words."""
    return text if text in ("(absent)", "[secret]", "known after apply") else code_span(text)


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


def changed_paths(old: Any, new: Any, prefix: list | None = None) -> list[list[str | int]]:
    """Leaf paths where two values differ (secrets compare only by being secret on both sides)."""
    prefix = prefix or []
    if len(prefix) > MAX_DEPTH:
        raise _too_deep()
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
