"""Property-based tests (hypothesis, derandomized profile in conftest.py): generated hostile configs and
Pulumi JSON documents never end in a traceback; every error is a clear, key-named, one-line message."""

import contextlib
import copy
import io
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from azureml_endpoints.cli import drift, guard
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import CONFIG_NAMESPACE, StackConfig, parse_settings
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.pulumi_json import SECRET_SIG, SECRET_VALUE_SIG, UNKNOWN_VALUE

DEV = {k.split(":", 1)[1]: v for k, v in yaml.safe_load((project_dir() / "Pulumi.dev.yaml").read_text())["config"].items()}


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(DEV) if p]


def _aliases(model, seen=None) -> set[str]:
    """Every key any config model knows, so mutations also add known optional keys (blank, odd or valid)."""
    from pydantic import BaseModel

    seen = seen if seen is not None else set()
    found = set()
    for field in model.model_fields.values():
        found.add(field.alias)
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
                seen.add(annotation)
                found |= _aliases(annotation, seen)
            stack += list(getattr(annotation, "__args__", ()))
    return found


KEYS = sorted(_aliases(StackConfig))
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["", "\n", "blue\n", "ID-MI-UAI-DEV", "PT3M1S", "PT0S", "yes", "2024-05-01", "x" * 300, "a`b", "null", "NaN"]
)
SCALARS = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)


@st.composite
def mutated_configs(draw):
    raw = copy.deepcopy(DEV)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = raw
        try:
            for key in path[:-1]:
                parent = parent[key]
            kind = draw(st.sampled_from(["replace", "delete", "add"]))
            value = draw(st.none() | JSON)
            if kind == "replace":
                parent[path[-1]] = value
            elif kind == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(KEYS) | TEXT)] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape on the way
    return raw


@settings(max_examples=300)
@given(mutated_configs())
def test_any_config_is_valid_or_refused_key_by_key(raw):
    try:
        parse_settings(raw)
    except SettingsError as error:
        lines = str(error).split("\n")
        if len(lines) == 1:  # a single violation is one line
            assert lines[0].startswith(f"invalid {CONFIG_NAMESPACE} config: {CONFIG_NAMESPACE}:"), lines[0]
            return
        assert lines[0] == f"invalid {CONFIG_NAMESPACE} config:"
        for line in lines[1:]:
            assert line.startswith(f"  {CONFIG_NAMESPACE}:"), line  # a key named on every line, never split


# --- Pulumi JSON readers ------------------------------------------------------------------------------------------

URN = st.sampled_from(
    [
        "urn:pulumi:dev::azureml-endpoints::azure-native:machinelearningservices:OnlineEndpoint::ep",
        "urn:pulumi:dev::azureml-endpoints::azure-native:storage:StorageAccount::acct",
        "urn:pulumi:dev::azureml-endpoints::pulumi:pulumi:Stack::azureml-endpoints-dev",
        "not a urn",
    ]
)
OPS = st.sampled_from(
    ["same", "create", "update", "delete", "replace", "create-replacement", "delete-replaced", "refresh", "read", "frobnicate"]
)
PROPS = st.dictionaries(
    st.sampled_from(["identity", "tags", "properties", "sku", "x"]),
    JSON | st.just({SECRET_SIG: SECRET_VALUE_SIG, "ciphertext": "v1:x"}) | st.just(UNKNOWN_VALUE),
    max_size=4,
)
STATE = (
    st.none()
    | JSON
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["t", "azure-native:machinelearningservices:OnlineEndpoint"])},
        optional={"inputs": PROPS | JSON, "outputs": PROPS | JSON, "protect": JSON, "urn": URN, "custom": JSON},
    )
)
DIFF = (
    st.none()
    | JSON
    | st.dictionaries(
        st.sampled_from(["identity.type", "tags.owner", 'x["a.b"][0]', "sku"]),
        st.fixed_dictionaries({}, optional={"kind": JSON, "diffKind": JSON, "inputDiff": JSON}),
        max_size=3,
    )
)
DIGEST_STEP = JSON | st.fixed_dictionaries(
    {"op": OPS, "urn": URN},
    optional={"oldState": STATE, "newState": STATE, "detailedDiff": DIFF, "diffReasons": JSON, "replaceReasons": JSON},
)
DIGEST = st.fixed_dictionaries(
    {},
    optional={
        "config": JSON,
        "steps": st.lists(DIGEST_STEP, max_size=5) | JSON,
        "changeSummary": JSON | st.dictionaries(OPS, st.integers(0, 9)),
        "diagnostics": JSON
        | st.lists(st.fixed_dictionaries({"severity": st.sampled_from(["error", "warning", "info"]), "message": TEXT}), max_size=2),
    },
)
METADATA = st.fixed_dictionaries(
    {"op": OPS, "urn": URN}, optional={"type": JSON, "old": STATE, "new": STATE, "detailedDiff": DIFF, "diffs": JSON, "keys": JSON}
)
EVENT = JSON | st.one_of(
    st.builds(lambda m: {"resourcePreEvent": {"metadata": m}}, METADATA),
    st.builds(lambda m: {"resOutputsEvent": {"metadata": m}}, METADATA),
    st.builds(lambda c: {"summaryEvent": {"resourceChanges": c}}, JSON | st.dictionaries(OPS, st.integers(0, 9))),
    st.builds(lambda s, m: {"diagnosticEvent": {"severity": s, "message": m}}, st.sampled_from(["error", "info"]) | JSON, TEXT),
    st.builds(lambda e: {"sequence": 1, "preludeEvent": e}, JSON),
)


def _run(tool, data: bytes) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "input.json"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = tool.main([str(path)])
    return code, out.getvalue(), err.getvalue()


def _documents():
    digest = DIGEST.map(lambda d: json.dumps(d, indent=4))
    events = st.lists(EVENT, min_size=1, max_size=6).map(lambda evs: "\n".join(json.dumps(e) for e in evs) + "\n")
    text = digest | events
    encoded = st.tuples(text, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])).map(lambda t: t[0].encode(t[1]))
    cut = st.tuples(encoded, st.integers(0, 400)).map(lambda t: t[0][: t[1]] if t[1] < len(t[0]) else t[0])
    return encoded | cut | st.binary(max_size=200)


@settings(max_examples=200)
@given(_documents())
def test_guard_and_drift_never_trace_back(data):
    for tool in (guard, drift):
        code, out, err = _run(tool, data)
        assert code in (0, 1, 2)
        if code == 1:
            assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        else:
            assert err == "" and SECRET_VALUE_SIG not in out and "v1:x" not in out and UNKNOWN_VALUE not in out


# --- stack files --------------------------------------------------------------------------------------------------

DEV_TEXT = (project_dir() / "Pulumi.dev.yaml").read_text()
YAML_BITS = st.sampled_from(
    [
        "",
        "\n",
        ": ",
        "- ",
        "  ",
        "{",
        "}",
        "[",
        "]",
        "!!binary ",
        "!!float ",
        "!!set ",
        "!!bool ",
        "!!int ",
        "!!omap ",
        "!!timestamp ",
        "!!str ",
        "&a ",
        "*a",
        "~",
        ".",
        "yes",
        "2024-05-01",
        "1:30",
        ".nan",
        "-.inf",
        "0x1F",
        "'",
        '"',
        "#",
        "\t",
        "\ufeff",
        "%YAML 1.1\n",
        "---\n",
    ]
)


@st.composite
def stack_files(draw):
    text = DEV_TEXT
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 5))
        text = text[:at] + draw(YAML_BITS | TEXT) + text[at + cut :]
    return text


@settings(max_examples=200)
@given(stack_files())
def test_stack_files_parse_or_are_refused_with_one_line(text):
    from azureml_endpoints.pulumi_io.stack_files import StackFileError, read_stack_file

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "Pulumi.dev.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            config = read_stack_file(path)
        except StackFileError as error:
            assert "\n" not in str(error), str(error)  # one line
            return
    json.dumps(config, allow_nan=False)  # what the program receives is JSON, as from the CLI
    for key in config:
        assert isinstance(key, str)
