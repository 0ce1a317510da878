"""Stack and project files read as the Pulumi CLI reads them, so every tool sees what `pulumi up` would see.

`read_stack_file` follows the CLI's YAML reader (gopkg.in/yaml.v2) value by value; `project_defaults` applies
the `default` of every key `Pulumi.yaml` declares, as the CLI hands it to the program when a stack sets none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from azureml_endpoints.config.base import stray_namespace_problems
from azureml_endpoints.paths import project_dir as current_project

SECRET_SIG = "4dabf18193072939515e22adb298388d"
DEFAULT_NAMESPACE = "azureml-endpoints"  # this project's name, when a stack file has no project to read it from


def project_name(project_dir: Path | None = None) -> str:
    project_dir = project_dir or current_project()
    return _project(project_dir / "Pulumi.yaml", (project_dir / "Pulumi.yaml").stat().st_mtime_ns)["name"]


@functools.cache
def _project(path: Path, modified_ns: int) -> dict[str, Any]:
    """Pulumi.yaml, parsed once per version of the file (every evaluation reads its name and defaults)."""
    return yaml.safe_load(path.read_text()) or {}


def shipped_stacks(project_dir: Path | None = None) -> list[str]:
    """The stacks of a project (default the current one): every Pulumi.<stack>.yaml beside its Pulumi.yaml."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (project_dir or current_project()).glob("Pulumi.*.yaml"))


class StackFileError(ValueError):
    """A stack file the Pulumi CLI would refuse; the message is one line naming the file and line."""


_INT = re.compile(r"[-+]?(?:0b[01_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")


class _CliLoader(yaml.SafeLoader):
    """YAML read as the Pulumi CLI reads a stack file (gopkg.in/yaml.v2, see `stack_config`).

    Timestamps stay the strings written; y/n/yes/no/on/off are booleans (YAML 1.1); numbers have no
    sexagesimal form; a key repeated in one mapping is refused.
    """

    bool_values = {**yaml.SafeLoader.bool_values, "y": True, "n": False}
    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":timestamp", ":int", ":float", ":bool"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise StackFileError(f"line {key_node.start_mark.line + 1}: a mapping key must be a scalar")
            if key in seen:
                raise StackFileError(f"line {key_node.start_mark.line + 1}: mapping key {key!r} already defined at line {seen[key]}")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if value != value or value in (float("inf"), float("-inf")):
            raise StackFileError(f"line {node.start_mark.line + 1}: {node.value!r} has no JSON form (the CLI passes JSON)")
        # Go's JSON encoder writes an integral float64 below 1e21 without a fraction ("1.0" -> 1), and the
        # CLI decodes it back as an int64 (value.go, replaceNumberWithIntOrFloat).
        return int(value) if value.is_integer() and abs(value) < 1e21 else value


_CliLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)
_CliLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile("(?:" + _INT.pattern + ")$"), list("-+0123456789"))
_CliLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile("(?:" + _FLOAT.pattern + ")$"), list("-+0123456789."))
_CliLoader.add_constructor("tag:yaml.org,2002:float", _CliLoader.construct_yaml_float)
# Explicit tags as yaml.v2 decodes them into a config value: a timestamp stays its text, a set is a map of
# nulls, binary becomes the decoded bytes as a string (Go's JSON encoder replaces invalid UTF-8, as
# "replace" does here).
_CliLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: node.value)
_CliLoader.add_constructor("tag:yaml.org,2002:set", lambda loader, node: dict.fromkeys(loader.construct_mapping(node, deep=True)))
_CliLoader.add_constructor(
    "tag:yaml.org,2002:binary", lambda loader, node: yaml.SafeLoader.construct_yaml_binary(loader, node).decode("utf-8", "replace")
)


# Bounds, so a hostile stack file costs a line, not the machine. The CLI's YAML library (gopkg.in/yaml.v2 v2.4.0
# decode.go and yaml.v3 decode.go, `unmarshal`) stops a decode whose alias expansion is most of the work: more
# than 100 alias-driven decodes, more than 1000 decodes, and a share of alias-driven decodes above 99% up to
# 400,000 decodes, falling linearly to 10% at 4,000,000; its scanner stops at "exceeded max depth of 10000".
ALIAS_RATIO_LOW, ALIAS_RATIO_HIGH = 400_000, 4_000_000
CLI_MAX_DEPTH = 10_000
# No setting of this project nests more than a few levels; deeper text is refused before it is built (building
# 10,000 levels takes this reader about a minute).
MAX_DEPTH = 64
# The largest template ARM deploys is 4 MB ("Resolve errors for job size exceeded"): a stack file larger than
# that cannot describe a deployable stack.
MAX_STACK_FILE_BYTES = 4 * 1024 * 1024


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - ALIAS_RATIO_LOW) / (ALIAS_RATIO_HIGH - ALIAS_RATIO_LOW)


def _check_depth(text: str) -> None:
    """The nesting of the document, from its events (no recursion, nothing built)."""
    depth = 0
    for event in yaml.parse(text, Loader=_CliLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > CLI_MAX_DEPTH:
                raise StackFileError(f"line {event.start_mark.line + 1}: exceeded max depth of {CLI_MAX_DEPTH} (the CLI refuses it too)")
            if depth > MAX_DEPTH:
                raise StackFileError(f"line {event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep; no setting nests so")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_aliasing(root: yaml.Node) -> None:
    """Count decodes as go-yaml does (a node reached again is an alias: it and its subtree decode again)."""
    decodes = aliased = 0
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, alias_depth = stack.pop()
        if id(node) in seen:
            decodes, aliased, alias_depth = decodes + 1, aliased + (alias_depth > 0), alias_depth + 1
        seen.add(id(node))
        decodes += 1
        aliased += alias_depth > 0
        if aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes):
            raise StackFileError("document contains excessive aliasing (the CLI's YAML library refuses it too)")
        if isinstance(node, yaml.MappingNode):
            stack += [(child, alias_depth) for pair in reversed(node.value) for child in reversed(pair)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, alias_depth) for child in reversed(node.value)]


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config:` of a stack file as the Pulumi CLI hands it to the program.

    The CLI (pulumi/pulumi sdk/go/common/workspace/loaders.go, LoadProjectStack: the UTF-8 BOM stripped,
    then sdk/go/common/encoding/marshal.go, gopkg.in/yaml.v2) reads each value into config.Value
    (sdk/go/common/resource/config/value.go, unmarshalValue): a scalar is taken as the string written
    (`2024-05-01`, `120`, `yes`; a blank `key:` is ""), anything else is decoded and re-encoded as JSON,
    where yaml.v2 keeps timestamp-like scalars as strings and reads y/n/yes/no/on/off as booleans.
    Scalars are returned as those strings, objects and lists as data; a duplicated key is refused (the CLI
    refuses it too), as is a document that is not a mapping with a `config` mapping.
    """
    if path.stat().st_size > MAX_STACK_FILE_BYTES:
        raise StackFileError(f"{path.name}: larger than {MAX_STACK_FILE_BYTES // (1024 * 1024)} MB, more than ARM deploys in one template")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise StackFileError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    loader = None
    try:
        _check_depth(text)
        loader = _CliLoader(text)
        root = loader.get_single_node()
        if root is None:
            return {}
        _check_aliasing(root)
        if not isinstance(root, yaml.MappingNode):
            raise StackFileError("the stack file is not a YAML mapping")
        document = loader.construct_document(root)  # refuses duplicated keys at any depth
        if not isinstance(document, dict):
            raise StackFileError("the stack file is not a YAML mapping")
        if document.get("config") is None:
            return {}
        config_node = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None)
        if not isinstance(document["config"], dict) or not isinstance(config_node, yaml.MappingNode):
            raise StackFileError("`config` must be a mapping of keys to values")
        config: dict[str, Any] = {}
        for key_node, value_node in config_node.value:  # merge keys already flattened into the pairs
            key = loader.construct_object(key_node, deep=True)
            if isinstance(value_node, yaml.ScalarNode) and not isinstance(document["config"].get(key), (dict, list)):
                value = "" if value_node.tag.endswith(":null") else value_node.value
            else:
                value = document["config"][key]
            config[str(key)] = value
        stray = stray_namespace_problems(config, _namespace(path))
        if stray:
            raise StackFileError("; ".join(stray))
        return config
    except StackFileError as error:
        raise StackFileError(f"{path.name}: {error}") from None
    except RecursionError:
        raise StackFileError(f"{path.name}: nested too deeply to read") from None
    except (ValueError, TypeError, IndexError, KeyError) as error:  # an explicitly tagged scalar that is no such value
        raise StackFileError(f"{path.name}: a value cannot be read as its tag says ({type(error).__name__}: {error})") from None
    except yaml.reader.ReaderError as error:
        character = chr(error.character) if isinstance(error.character, int) else error.character
        raise StackFileError(f"{path.name}: character {character!r} at position {error.position} is not allowed in YAML") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        message = str(getattr(error, "problem", None) or error).replace("\n", " ")
        raise StackFileError(f"{path.name}: {where}{message}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _namespace(stack_file: Path) -> str:
    """The config namespace of a stack file's project: the name in the Pulumi.yaml beside it, else the current one."""
    beside = stack_file.parent / "Pulumi.yaml"
    try:
        return project_name(stack_file.parent if beside.is_file() else None)
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return DEFAULT_NAMESPACE


def stack_config(stack: str, project_dir: Path | None = None) -> dict[str, Any]:
    """The `config:` of Pulumi.<stack>.yaml, keys with their namespace, values as the CLI passes them."""
    project_dir = project_dir or current_project()
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no stack file {path.name} (stacks: {', '.join(shipped_stacks(project_dir))})")
    return read_stack_file(path)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270"


def project_defaults(project_dir: Path | None = None) -> dict[str, Any]:
    """The `default` of every key Pulumi.yaml declares: the CLI hands it to the program when a stack sets none."""
    path = (project_dir or current_project()) / "Pulumi.yaml"
    declared = _project(path, path.stat().st_mtime_ns).get("config") or {}
    return {key: d["default"] for key, d in declared.items() if isinstance(d, dict) and "default" in d}
