"""Stack config as typed, validated models: shared by the program and bootstrap/.

A model is read from `pulumi.Config` once; every violation is reported at once, each with its full key
(`<namespace>:onlineEndpoints[0].traffic`), before any resource is registered.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

Model = TypeVar("Model", bound=BaseModel)


class SettingsError(Exception):
    """A stack config that breaks a rule; the message names each offending key."""


class KeyedErrors(ValueError):
    """Several violations found by one cross-key rule, each at its own key: ((location), message) pairs."""

    def __init__(self, errors: list[tuple[tuple, str]]):
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


class ConfigModel(BaseModel):
    """camelCase keys as in the stack files; unknown keys refused (typos do not pass silently)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def matches(pattern: re.Pattern, rule: str):
    """A field validator: the value must match `pattern`, else the error states `rule`."""

    def validate(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not valid: {rule}")
        return value

    return validate


def config_key(namespace: str, location: tuple) -> str:
    """`('onlineEndpoints', 0, 'traffic')` -> `<namespace>:onlineEndpoints[0].traffic`."""
    key = namespace + ":"
    for i, part in enumerate(location):
        key += f"[{part}]" if isinstance(part, int) else ("." if i else "") + str(part)
    return key


def validate_config(model: type[Model], namespace: str, raw: Mapping[str, Any]) -> Model:
    """Raw config values (keys without the namespace) as a model, or SettingsError naming every bad key."""
    try:
        return model.model_validate(dict(raw))
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
            if not e["loc"]:  # a rule across several keys names them itself
                lines.append(f"{namespace}:{message}")
                continue
            if e["type"] == "missing":
                message = "is required"
            elif e["type"] == "extra_forbidden":
                message = "is not a known setting (check the spelling against Pulumi.yaml)"
            lines.append(f"{config_key(namespace, e['loc'])}: {message}")
        raise SettingsError(f"invalid {namespace} config:\n  " + "\n  ".join(lines)) from None


def read_config(config, model: type[BaseModel]) -> dict[str, Any]:
    """Every top-level key of `model` present in a `pulumi.Config`: structured and numeric values arrive as JSON."""
    raw = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = config.get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except ValueError:
                raw[key] = value
    return raw
