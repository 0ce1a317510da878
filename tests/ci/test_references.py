"""The generated references (scripts/generate_references.py) are current, can go stale, and the stack schema holds.

A model, rule or policy change without regeneration fails here with the command to run; the stack JSON Schema
accepts every shipped stack file (read as editors read typed YAML) and refuses what the program refuses.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import jsonschema
import pytest
import yaml
from pydantic import AfterValidator, Field

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.names import NameRule
from azureml_endpoints.config.stack import CONFIG_NAMESPACE, StackConfig, parse_settings
from azureml_endpoints.paths import REPO
from scripts import generate_references as gen
from tests.ci.test_docs_links import anchors
from tests.support.teams import TEAM_STACKS, TEAMS

NS = CONFIG_NAMESPACE
GENERATED = gen.outputs()
# The root stacks, and the teams' stacks tests/cli/test_check.py adds at a project's root: what a team adds passes these too.
STACK_FILES = [*gen.stack_files(), *((TEAMS / name).relative_to(REPO) for name in TEAM_STACKS)]


def _current(path: Path) -> str | None:
    return (REPO / path).read_text() if (REPO / path).is_file() else None


# --- (a) each generated file is what the generator writes now ---------------------------------------------------


@pytest.mark.parametrize("path", sorted(GENERATED), ids=lambda p: p.as_posix())
def test_each_generated_file_is_current(path):
    assert _current(path) == GENERATED[path], f"{path.as_posix()} is stale: run {gen.COMMAND}"


def test_the_check_command_passes_on_the_repository():
    assert gen.main(["--check"]) == 0


# --- (b) the currency check can fail ----------------------------------------------------------------------------


class _ChangedStackConfig(StackConfig):
    """StackConfig with one description and one bound changed, as an edit to the model without regenerating."""

    role_propagation_seconds: int = Field(120, ge=0, le=600, description="A changed description of the RBAC wait.")


def test_a_changed_description_or_bound_changes_every_generated_config_file():
    project = _current(gen.PROJECT)
    changed = {
        gen.CONFIGURATION: gen.stack_configuration(_ChangedStackConfig),
        gen.STACK_SCHEMA: gen.render_schema(_ChangedStackConfig),
        gen.PROJECT: gen.render_project(project, _ChangedStackConfig),
    }
    for path, text in changed.items():
        assert text != _current(path), path
        assert "A changed description of the RBAC wait." in text, path
    assert "| `rolePropagationSeconds` | integer | no | `120` | 0 to 600 |" in changed[gen.CONFIGURATION]
    assert '"maximum": 600' in changed[gen.STACK_SCHEMA]


def test_a_changed_rule_or_policy_config_changes_the_policy_reference():
    policies = [copy.copy(p) for p in gen.pack_policies()]
    policies[0].description = "A changed rule description."
    assert "A changed rule description." in gen.render_policies(policies, gen.policy_configs())
    configs = gen.policy_configs()
    configs["dev"]["endpoint-entra-auth"] = "mandatory"
    text = gen.render_policies(gen.pack_policies(), configs)
    assert text != _current(gen.POLICIES)
    row = next(line for line in text.splitlines() if line.startswith("| `endpoint-entra-auth` |") and "**" in line)
    assert row.split(" | ")[1 + sorted(configs).index("dev")] == "**mandatory**", row


def test_the_check_command_names_each_stale_file_and_writes_nothing(monkeypatch, capsys):
    stale = dict(GENERATED)
    stale[gen.CONFIGURATION] += "\nchanged\n"
    monkeypatch.setattr(gen, "outputs", lambda: stale)
    before = _current(gen.CONFIGURATION)
    assert gen.main(["--check"]) == 1
    message = capsys.readouterr().err
    assert message == f"{gen.CONFIGURATION.as_posix()}: not what the code generates now; run {gen.COMMAND}\n"
    assert _current(gen.CONFIGURATION) == before


def test_the_script_runs_as_documented():
    done = subprocess.run([sys.executable, "scripts/generate_references.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")


# --- what the references carry ----------------------------------------------------------------------------------


def _flat_keys(value, prefix: str = "") -> set[str]:
    """Every key path of a config value, written as the reference writes it (`a[].b`)."""
    if isinstance(value, dict) and set(value) != {"secure"}:
        return {k for name, v in value.items() for k in {prefix + name} | _flat_keys(v, f"{prefix}{name}.")}
    if isinstance(value, list):
        return {k for item in value for k in _flat_keys(item, prefix.removesuffix(".") + "[].")}
    return set()


_MAPS = ("tags", "workspaceIdentityBaseline", "environmentVariables", "traffic", "mirrorTraffic")


@pytest.mark.parametrize("stack", [p.as_posix() for p in STACK_FILES])
def test_every_key_a_shipped_stack_sets_has_a_row_in_the_reference(stack):
    config = yaml.safe_load((REPO / stack).read_text())["config"]
    written = set()
    for key, value in config.items():
        top = key.removeprefix(f"{NS}:")
        written |= {top} | _flat_keys(value, f"{top}.")
    rows = set(re.findall(r"^\| `([^`]+)` \|", GENERATED[gen.CONFIGURATION], re.MULTILINE))
    # keys of maps (tag names, deployment names in a traffic split) are the user's own, not settings
    missing = sorted(k for k in written - rows if not any(f"{m}." in k or k.startswith(f"{m}.") for m in _MAPS))
    assert not missing, missing


def test_every_top_level_key_has_a_stable_section_anchor():
    found = anchors(GENERATED[gen.CONFIGURATION])
    assert {gen.anchor(f.alias) for f in StackConfig.model_fields.values()} <= found
    bootstrap = gen.bootstrap_model()
    assert {gen.anchor(f.alias) for f in bootstrap.model_fields.values()} <= anchors(GENERATED[gen.BOOTSTRAP_CONFIGURATION])


def test_every_config_key_has_a_description():
    undescribed = [k.path for k in gen.model_keys(StackConfig) if not k.description]
    undescribed += [k.path for k in gen.model_keys(gen.bootstrap_model()) if not k.description]
    assert not undescribed, undescribed


def test_a_name_rule_reaches_the_reference_and_the_schema():
    rule = NameRule(re.compile(r"(?i:ab)[0-9]{2}"), "ab then two digits")

    class Named(StackConfig):
        environment: Annotated[str, AfterValidator(rule.check), rule] = Field(description="A named key.")

    assert "| `environment` | string | yes |  | ab then two digits | A named key. |" in gen.stack_configuration(Named)
    validator = jsonschema.Draft7Validator(gen.stack_schema(Named))
    document = _dev()
    valid = []
    for value in ("Ab12", "aB99", "ab1", "xab12", "ab123"):
        document["config"][f"{NS}:environment"] = value
        valid.append(validator.is_valid(document))
    assert valid == [True, True, False, False, False]


def test_markdown_cells_escape_pipes_and_html_but_not_code():
    assert gen.cell("a | b <c> * `x|<y>`") == "a \\| b &lt;c&gt; \\* `x\\|<y>`"


# --- (c) the schema accepts every shipped stack file ------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = yaml.safe_load(GENERATED[gen.STACK_SCHEMA])
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator, document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("stack", [p.as_posix() for p in STACK_FILES])
def test_every_shipped_stack_file_validates_against_the_schema(validator, stack):
    assert _errors(validator, yaml.safe_load((REPO / stack).read_text())) == []


def test_check_jsonschema_accepts_every_shipped_stack_file():
    """As editors check them: ECMA-262 regular expressions (the schema's patterns must compile there), YAML 1.2."""
    files = [p.as_posix() for p in STACK_FILES]
    command = [str(Path(sys.executable).parent / "check-jsonschema"), "--schemafile", gen.STACK_SCHEMA.as_posix(), *files]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- (d) a wrong stack fails the schema, as it fails the program ------------------------------------------------


def _dev() -> dict:
    return yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())


def _online(document: dict) -> dict:
    return document["config"][f"{NS}:onlineEndpoints"][0]


def _unknown_top_level(d):
    d["config"][f"{NS}:onlineEndpoint"] = d["config"][f"{NS}:onlineEndpoints"]


def _unknown_nested(d):
    _online(d)["deployments"][0]["instanceCnt"] = 1


def _wrong_enum(d):
    _online(d)["authMode"] = "Keys"


def _bad_name(d):
    _online(d)["name"] = "-starts-with-a-dash"


def _out_of_bounds(d):
    d["config"][f"{NS}:rolePropagationSeconds"] = 901


def _boolean_for_an_integer(d):
    _online(d)["deployments"][0]["instanceCount"] = True


def _blank(d):
    d["config"][f"{NS}:monitoring"] = None


@pytest.mark.parametrize(
    "break_it, where",
    [
        (_unknown_top_level, "config: 'azureml-endpoints:onlineEndpoint' does not match any of the regexes"),
        (_unknown_nested, "config/azureml-endpoints:onlineEndpoints/0/deployments/0: Additional properties are not allowed ('instanceCnt'"),
        (_wrong_enum, "config/azureml-endpoints:onlineEndpoints/0/authMode: 'Keys' is not one of ['Key', 'AMLToken', 'AADToken']"),
        (_bad_name, "config/azureml-endpoints:onlineEndpoints/0/name: "),
        (_out_of_bounds, "config/azureml-endpoints:rolePropagationSeconds: 901 is greater than the maximum of 900"),
        (_boolean_for_an_integer, "config/azureml-endpoints:onlineEndpoints/0/deployments/0/instanceCount: True is not of type 'integer'"),
        (_blank, "config/azureml-endpoints:monitoring: None is not of type 'object'"),
    ],
)
def test_a_wrong_stack_fails_the_schema_and_the_program(validator, break_it, where):
    document = _dev()
    break_it(document)
    errors = _errors(validator, document)
    assert len(errors) == 1 and errors[0].startswith(where), errors
    with pytest.raises(SettingsError):
        parse_settings({k.removeprefix(f"{NS}:"): v for k, v in document["config"].items()})


def test_secure_values_are_accepted_where_a_string_is(validator):
    document = _dev()
    document["config"][f"{NS}:tags"]["costCenter"] = {"secure": "v1:AAAA"}
    document["config"]["azure-native:location"] = "westeurope"  # other namespaces are the providers'
    assert _errors(validator, document) == []
    _online(document)["deployments"][0]["instanceCount"] = {"secure": "v1:AAAA"}
    assert len(_errors(validator, document)) == 1


def test_only_the_stack_settings_pulumi_reads_are_top_level_keys(validator):
    document = _dev()
    document["secretprovider"] = document["secretsprovider"]
    assert _errors(validator, document) == [": Additional properties are not allowed ('secretprovider' was unexpected)"]


# --- (e) every shipped stack file names the schema --------------------------------------------------------------


@pytest.mark.parametrize("stack", [p.as_posix() for p in STACK_FILES])
def test_every_shipped_stack_file_names_the_schema_on_its_first_line(stack):
    first = (REPO / stack).read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=docs/reference/stack.schema.json"
    assert (REPO / first.split("$schema=", 1)[1]).is_file()  # relative to the repository root, where a stack file sits


def test_the_schema_line_is_added_or_replaced_and_nothing_else_changes():
    assert gen.with_schema_line("config: {}\n") == f"{gen.SCHEMA_LINE}\nconfig: {{}}\n"
    assert gen.with_schema_line("# yaml-language-server: $schema=old.json\n# dev\n") == f"{gen.SCHEMA_LINE}\n# dev\n"
