"""Stack config as typed, validated models: shared by the program and bootstrap/.

A model is read from `pulumi.Config` once; every violation is reported at once, each with its full key
(`<namespace>:onlineEndpoints[0].traffic`), before any resource is registered.

The mechanisms here apply to every key of every model, including keys added later:
- `read_config` reads every key of the namespace, so an unknown top-level key is refused like an unknown
  nested one, with a did-you-mean suggestion from the model's aliases (`validate_config`, `did_you_mean`);
- `ConfigModel._no_blank_values`: a blank value (`key:` left empty, `null`) is refused as "must not be
  empty", naming the key. A blank left where a value was meant must not silently become a default (a blank
  `publicNetworkAccess` would fall back to Azure's Enabled); removing the key is how to ask for the default;
- `validate_config` validates in pydantic's strict JSON mode: a boolean is never an integer, "yes" never a
  number, while the JSON numbers the CLI passes still are;
- `matches` matches the whole value, so a trailing newline never passes a name rule;
- `unique_ignoring_case` for every uniqueness rule Azure applies without regard to case;
- `duration_seconds` / `iso_duration` parse ISO 8601 durations once, with an optional upper bound;
- `shipped_file` checks a file name against a folder's listing, never the file system, so no OSError;
- `quote` puts values in messages repr-quoted, control characters escaped, so one error stays one line.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

Model = TypeVar("Model", bound=BaseModel)
_QUOTE_LIMIT = 80


class SettingsError(Exception):
    """A stack config that breaks a rule; the message names each offending key."""


class KeyedErrors(ValueError):
    """Several violations found by one cross-key rule, each at its own key: ((location), message) pairs."""

    def __init__(self, errors: list[tuple[tuple, str]]):
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


def quote(value: Any) -> str:
    """A value as it may appear in one line of an error: repr-quoted, control characters escaped, cut when long."""
    text = repr(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


class ConfigModel(BaseModel):
    """camelCase keys as in the stack files; unknown keys refused (typos do not pass silently)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_blank_values(cls, data: Any, info: ValidationInfo) -> Any:
        """`key:` left empty or `null` in config is refused for every key of every model, naming the key.

        Config is validated as JSON (`validate_config`); code that builds a model in Python may pass None.
        """
        if info.mode == "json" and isinstance(data, Mapping):
            blank = [str(k) for k, v in data.items() if v is None]
            if blank:
                raise PydanticCustomError("blank_value", "must not be empty: give a value or remove the key", {"keys": blank})
        return data

    @model_validator(mode="before")
    @classmethod
    def _keys_as_written(cls, data: Any, info: ValidationInfo) -> Any:
        """A stack file spells every key as its camelCase name: `scoring_script` (az ml's spelling) is refused
        with the key to write, not silently accepted (Python code may still build models by field name)."""
        if info.mode == "json" and isinstance(data, Mapping):
            for name, field in cls.model_fields.items():
                if field.alias and field.alias != name and name in data:
                    raise ValueError(f"{name}: write {field.alias} instead (stack keys are camelCase)")
        return data


def matches(pattern: re.Pattern, rule: str):
    """A field validator: the whole value must match `pattern`, else the error states `rule`."""

    def validate(value: str | None) -> str | None:
        if value is not None and not pattern.fullmatch(value):
            raise ValueError(f"{quote(value)} is not valid: {rule}")
        return value

    return validate


def unique_ignoring_case(values: list[str], rule: str) -> None:
    """Raises when two values differ only in case: Azure treats these names (identities, tags, endpoints,
    deployments, clusters, groups) case-insensitively, so two of them would be one Azure object."""
    seen: dict[str, str] = {}
    repeated = []
    for value in values:
        key = value.casefold()
        if key in seen:
            repeated.append(f"{quote(seen[key])} and {quote(value)}" if seen[key] != value else quote(value))
        seen.setdefault(key, value)
    if repeated:
        raise ValueError(f"{rule}, ignoring case as Azure does (repeated: {', '.join(repeated)})")


_DURATION = re.compile(r"PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?")


def duration_seconds(value: str) -> float:
    """Seconds of an ISO 8601 time duration as Azure ML takes them (`PT5S`, `PT1M30S`); ValueError otherwise."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{quote(value)} is not an ISO 8601 duration such as PT5S or PT1M30S")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def iso_duration(maximum_seconds: float | None = None, limit: str = ""):
    """A field validator: an ISO 8601 duration, at most `maximum_seconds` (`limit` says whose limit it is)."""

    def validate(value: str | None) -> str | None:
        if value is not None:
            seconds = duration_seconds(value)
            if maximum_seconds is not None and seconds > maximum_seconds:
                raise ValueError(f"{quote(value)} is longer than {limit}")
        return value

    return validate


def shipped_file(directory: Callable[[], Path], label: str):
    """A field validator: the value names a file shipped in `directory()` (read when validating: project-relative).

    Compared with the directory's listing, never opened or stat'ed, so an over-long or odd name is a
    key-named error instead of an OSError, and no path can leave the directory.
    """

    def validate(value: str) -> str:
        folder = directory()
        shipped = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if value not in shipped:
            raise ValueError(f"{quote(value)} must name a file in {label} (shipped: {', '.join(shipped)})")
        return value

    return validate


def _key_part(part: Any) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_$@./-]+", text) else json.dumps(text)


def config_key(namespace: str, location: tuple) -> str:
    """`('onlineEndpoints', 0, 'traffic')` -> `<namespace>:onlineEndpoints[0].traffic`; odd key names quoted."""
    key = namespace + ":"
    for i, part in enumerate(location):
        key += f"[{part}]" if isinstance(part, int) else ("." if i else "") + _key_part(part)
    return key


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def model_at(model: type[BaseModel], location: tuple) -> type[BaseModel] | None:
    """The model class that validates the object at `location` inside `model`, if there is one."""
    annotation: Any = model
    for part in location:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if origin is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((f for n, f in annotation.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return None
            annotation = field.annotation
        else:
            return None
    annotation = _unwrap(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def aliases(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def did_you_mean(key: str, known: list[str]) -> str:
    """`; did you mean 'x'?` for the closest known key (case-insensitive), or ''."""
    import difflib  # only a stack with an unknown key needs it

    folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(str(key).casefold(), list(folded), n=1, cutoff=0.6)
    return f"; did you mean {quote(folded[close[0]])}?" if close else ""


def _unknown_key(model: type[BaseModel], location: tuple) -> str:
    parent = model_at(model, location[:-1])
    known = aliases(parent) if parent else []
    return f"is not a known setting{did_you_mean(location[-1], known)} (known: {', '.join(known)})"


def validate_config(model: type[Model], namespace: str, raw: Mapping[str, Any]) -> Model:
    """Raw config values (keys without the namespace) as a model, or SettingsError naming every bad key.

    Validated in pydantic's strict JSON mode: the JSON the Pulumi CLI hands over keeps its types, and
    nothing is coerced (true is no integer, "1" no number, 1 no string).
    """
    try:
        document = json.dumps(dict(raw), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"invalid {namespace} config: not JSON-compatible ({error})") from None
    try:
        return model.model_validate_json(document, strict=True)
    except ValidationError as error:
        lines = []
        for e in error.errors():
            keyed = (e.get("ctx") or {}).get("error")
            if isinstance(keyed, KeyedErrors):  # each violation at its own key, below the model that found them
                for location, message in keyed.errors:
                    where = config_key(namespace, (*e["loc"], *location)) if (*e["loc"], *location) else namespace
                    lines.append(f"{where}: {message}")
                continue
            message = e["msg"].removeprefix("Value error, ")
            location = tuple(e["loc"])
            if e["type"] == "blank_value":
                lines += [f"{config_key(namespace, location + (k,))}: {message}" for k in e["ctx"]["keys"]]
                continue
            if not location:  # a rule across several keys names them itself
                lines.append(f"{namespace}:{message}")
                continue
            if e["type"] == "missing":
                message = "is required"
            elif e["type"] == "extra_forbidden":
                message = _unknown_key(model, location)
            lines.append(f"{config_key(namespace, location)}: {message}")
        if len(lines) == 1:  # one refusal, one line: what `pulumi up` prints after "error:"
            raise SettingsError(f"invalid {namespace} config: {lines[0]}") from None
        raise SettingsError(f"invalid {namespace} config:\n  " + "\n  ".join(lines)) from None


def _wants_text(model: type[BaseModel], key: str) -> bool:
    """Whether a top-level key holds text (a string or a string enum): its value is taken as written."""
    field = next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)
    annotation = _unwrap(field.annotation) if field else None
    return isinstance(annotation, type) and issubclass(annotation, str)


def namespace_config(namespace: str) -> dict[str, str]:
    """Every `<namespace>:<key>` value the engine handed the program, keys without the namespace."""
    from pulumi.runtime import config as runtime_config

    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = namespace + ":"
    return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Go's encoding/json never writes them


def stray_namespace_problems(keys: Iterable[str], namespace: str) -> list[str]:
    """Keys of another namespace that look like `namespace` (`azureml-endpoint:rolePropagationSeconds`): the
    CLI hands them to no one, so the program would run on the default without a word. One line each."""
    import difflib  # only a stack with such a key needs it

    problems = []
    for key in keys:
        prefix, sep, rest = str(key).partition(":")
        if sep and prefix != namespace and difflib.SequenceMatcher(None, prefix.casefold(), namespace).ratio() >= 0.85:
            problems.append(
                f"{quote(key)}: {quote(prefix)} is not this project's config namespace; did you mean {quote(f'{namespace}:{rest}')}?"
            )
    return problems


def read_config(config, model: type[BaseModel]) -> dict[str, Any]:
    """Every key of the config's namespace, not only the model's, so an unknown one is refused, not ignored;
    a key of a namespace that is a typo of it is refused too.

    The CLI hands each top-level value over as a string: objects, lists, numbers and booleans as JSON, a
    blank (`key:`) as "". Text keys of `model` keep the string as written; "" becomes None (blank).
    """
    from pulumi.runtime import config as runtime_config

    stray = stray_namespace_problems({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}, config.name)
    if stray:
        raise SettingsError(f"invalid {config.name} config: " + "; ".join(stray))
    return decode_config(namespace_config(config.name), model)


def decode_config(values: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Top-level values (keys without the namespace) as the program reads them: strings the CLI sends are
    decoded as read_config says; values that are data already (a stack file read by azureml_endpoints.offline.evaluate) stay."""
    raw: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(value, str) and value is not None:
            raw[key] = value
        elif value == "" or value is None:
            raw[key] = None
        elif _wants_text(model, key):
            raw[key] = value
        else:
            try:
                raw[key] = json.loads(value, parse_constant=_refuse_constant)
            except ValueError:
                raw[key] = value
    return raw
