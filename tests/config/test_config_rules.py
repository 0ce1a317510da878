"""Regression tests for each class of bad config input (issue: every bad input gets a clear error).

Each rule is a general mechanism in components/config_model.py; these tests pin the examples that used to
pass silently or crash, through the model and, where the stack file matters, through the offline preview.
"""

import copy
import json
import shutil
import types
import typing

import jsonschema
import pytest
import yaml

from azureml_endpoints.cli.preview import main as preview_main
from azureml_endpoints.config.base import SettingsError, duration_seconds, model_at, quote
from azureml_endpoints.config.stack import CONFIG_NAMESPACE, StackConfig, parse_settings
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import PROJECT_ENV, REPO, project_dir
from azureml_endpoints.pulumi_io.stack_files import read_stack_file, stack_config

NS = CONFIG_NAMESPACE


def dev_raw() -> dict:
    return {
        k.split(":", 1)[1]: copy.deepcopy(v) for k, v in yaml.safe_load((project_dir() / "Pulumi.dev.yaml").read_text())["config"].items()
    }


def refused(raw: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw)
    message = str(error.value)
    lines = message.split("\n")
    if len(lines) == 1:  # a single violation is one line
        assert message.startswith(f"invalid {NS} config: {NS}:"), message
        return message
    assert lines[0] == f"invalid {NS} config:"
    assert all(line.startswith(f"  {NS}:") for line in lines[1:]), message  # one line per error, never split
    return message


def online(raw):
    return raw["onlineEndpoints"][0]


def batch(raw):
    return raw["batchEndpoints"][0]


# --- Pulumi.yaml declares every top-level key -------------------------------------------------------------------


def _project_type(annotation) -> dict:
    """The Pulumi project config type of a model field's annotation."""
    annotation = typing.get_args(annotation)[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) else annotation
    origin = typing.get_origin(annotation)
    if origin is list:
        return {"type": "array", "items": _project_type(typing.get_args(annotation)[0])}
    if origin is dict or (isinstance(annotation, type) and hasattr(annotation, "model_fields")):
        return {"type": "object"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    assert isinstance(annotation, type) and issubclass(annotation, str), annotation
    return {"type": "string"}


def test_pulumi_yaml_declares_every_top_level_key_with_type_and_description():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    jsonschema.validate(project, json.loads((REPO / "tests/data/pulumi/project.json").read_text()))
    declared = {k.split(":", 1)[1]: v for k, v in project["config"].items() if k.startswith(f"{NS}:")}
    fields = {f.alias: f for f in StackConfig.model_fields.values()}
    assert sorted(declared) == sorted(fields), "Pulumi.yaml's config and StackConfig must declare the same keys"
    for key, field in fields.items():
        declaration = declared[key]
        assert len(declaration.get("description", "")) > 20, key
        expected = _project_type(field.annotation)
        assert {k: declaration.get(k) for k in expected} == expected, key
        # The CLI requires a declared key without a default: optional keys must carry one.
        assert ("default" in declaration) == (not field.is_required()), key


# --- unknown keys, at the top level too ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, suggestion",
    [("onlineEndpoint", "onlineEndpoints"), ("rolePropagationSecond", "rolePropagationSeconds"), ("Tags", "tags")],
)
def test_unknown_top_level_key_is_refused_with_a_suggestion(key, suggestion):
    config = stack_config("dev")
    config[f"{NS}:{key}"] = config.get(f"{NS}:{suggestion}", "x")
    evaluation = evaluate("dev", config=config, raise_errors=False)
    assert isinstance(evaluation.error, SettingsError)
    assert f"{NS}:{key}: is not a known setting; did you mean {suggestion!r}?" in str(evaluation.error)
    assert evaluation.registrations == []  # before any resource


def test_unknown_nested_key_gets_a_suggestion_from_its_own_model():
    raw = dev_raw()
    online(raw)["deployments"][0]["instanceCnt"] = 1
    assert f"{NS}:onlineEndpoints[0].deployments[0].instanceCnt: is not a known setting; did you mean 'instanceCount'?" in refused(raw)
    assert model_at(StackConfig, ("onlineEndpoints", 0, "deployments", 0)).__name__ == "OnlineDeploymentConfig"


# --- blank values ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["workspace"].update(containerRegistryId=None), "workspace.containerRegistryId"),
        (lambda r: online(r)["identity"].update(userAssignedIdentityName=None), "onlineEndpoints[0].identity.userAssignedIdentityName"),
        (lambda r: online(r).update(publicNetworkAccess=None), "onlineEndpoints[0].publicNetworkAccess"),
        (lambda r: batch(r)["deployments"][0].update(retrySettings=None), "batchEndpoints[0].deployments[0].retrySettings"),
        (lambda r: r.update(batchEndpoints=None), "batchEndpoints"),
    ],
)
def test_blank_value_is_refused_naming_the_key(mutate, key):
    raw = dev_raw()
    mutate(raw)
    assert f"{NS}:{key}: must not be empty: give a value or remove the key" in refused(raw)


def test_blank_top_level_key_in_a_stack_file_is_named(tmp_path, capsys):
    text = (
        (project_dir() / "Pulumi.dev.yaml")
        .read_text()
        .replace("  azureml-endpoints:rolePropagationSeconds: 120", "  azureml-endpoints:rolePropagationSeconds:")
    )
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text)
    assert read_stack_file(path)[f"{NS}:rolePropagationSeconds"] == ""  # what the CLI passes for `key:`
    assert preview_main(["--stack", "dev", "--stack-file", str(path), "--graph", str(tmp_path / "g.mmd")]) == 1
    assert f"{NS}:rolePropagationSeconds: must not be empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["dataStorage"].update(fileName="x" * 300), "dataStorage.fileName"),
        (lambda r: online(r)["deployments"][0].update(scoringScript="s" * 5000 + ".py"), "onlineEndpoints[0].deployments[0].scoringScript"),
        (lambda r: batch(r)["deployments"][0].update(scoringScript="../" * 2000), "batchEndpoints[0].deployments[0].scoringScript"),
        (lambda r: r["dataStorage"].update(fileName="nul\x00.txt"), "dataStorage.fileName"),
    ],
)
def test_odd_file_names_are_key_named_errors_not_os_errors(mutate, key):
    raw = dev_raw()
    mutate(raw)
    assert f"{NS}:{key}: " in refused(raw)


# --- whole-value matches ------------------------------------------------------------------------------------------


NAME_KEYS = [
    (lambda r, v: online(r).update(name=v), "mi-uai-dev"),
    (lambda r, v: online(r)["deployments"][0].update(name=v), "blue"),
    (lambda r, v: online(r)["identity"].update(userAssignedIdentityName=v), "id-mi-uai-dev"),
    (lambda r, v: r["workspace"].update(name=v), "mlw-endpoints-dev"),
    (lambda r, v: r["workspace"].update(resourceGroup=v), "rg-ml-endpoints-dev"),
    (lambda r, v: r["dataStorage"].update(accountName=v), "stmlepdevdata"),
    (lambda r, v: r["dataStorage"].update(containerName=v), "data"),
    (lambda r, v: r["dataStorage"].update(datastoreName=v), "endpointdata"),
    (lambda r, v: online(r)["deployments"][0].update(requestSettings={"requestTimeout": v}), "PT5S"),
    (lambda r, v: online(r)["deployments"][0].update(livenessProbe={"period": v}), "PT10S"),
    (lambda r, v: batch(r).update(name=v), "batch-dev"),
    (lambda r, v: batch(r)["compute"].update(name=v), "batch-cluster"),
    (lambda r, v: batch(r)["compute"].update(vmSize=v), "STANDARD_D2_V2"),
    (lambda r, v: batch(r)["compute"]["identity"].update(userAssignedIdentityNames=[v]), "id-batch-cluster-dev"),
    (lambda r, v: batch(r)["deployments"][0]["retrySettings"].update(timeout=v), "PT30S"),
    (lambda r, v: batch(r)["deployments"][0].update(outputFileName=v), "predictions.csv"),
]


@pytest.mark.parametrize("mutate, valid", NAME_KEYS)
@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t"])
def test_a_trailing_newline_or_space_never_passes_a_name_rule(mutate, valid, suffix):
    raw = dev_raw()
    mutate(raw, valid)
    parse_settings(raw)  # the value itself is valid
    mutate(raw, valid + suffix)
    message = refused(raw)
    assert quote(valid + suffix) in message  # quoted: the newline is shown as \n, never printed


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r["tags"].update({"cost\ncenter": "x"}),
        lambda r: online(r).update(authMode="AADToken", callers={"groups": ["ml-callers\n"]}),
    ],
)
def test_control_characters_fail_free_text_names(mutate):
    raw = dev_raw()
    mutate(raw)
    assert "control characters" in refused(raw)


def test_bootstrap_settings_share_the_whole_value_rules():
    from bootstrap.bootstrap_settings import GitHub

    with pytest.raises(ValueError, match="owner/name"):
        GitHub.model_validate({"repository": "octo/repo\n"})


# --- case-insensitive uniqueness --------------------------------------------------------------------------------


def test_identities_differing_only_in_case_are_one_identity():
    raw = dev_raw()
    second = copy.deepcopy(online(raw))
    second.update(name="other-endpoint")
    second["identity"]["userAssignedIdentityName"] = "ID-MI-UAI-DEV"
    raw["onlineEndpoints"].append(second)
    assert "(repeated: 'id-mi-uai-dev' and 'ID-MI-UAI-DEV')" in refused(raw)


def test_cluster_identity_clashing_in_case_with_an_endpoint_identity():
    raw = dev_raw()
    batch(raw)["compute"]["identity"]["userAssignedIdentityNames"] = ["Id-Mi-Uai-Dev"]
    assert (
        f"{NS}:batchEndpoints[0].compute.identity.userAssignedIdentityNames[0]: 'Id-Mi-Uai-Dev' is also "
        "onlineEndpoints[0].identity.userAssignedIdentityName: two resources would manage one user-assigned identity"
    ) in refused(raw)


def sandbox_raw() -> dict:
    """A stack that creates its workspace (Pulumi.sandbox.yaml), without batch endpoints."""
    stack = yaml.safe_load((project_dir() / "Pulumi.sandbox.yaml").read_text())["config"]
    raw = {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in stack.items()}
    raw.pop("batchEndpoints", None)
    return raw


@pytest.mark.parametrize(
    "mutate, key, other",
    [
        (
            lambda raw: raw["workspace"]["identity"].update(
                userAssignedIdentityNames=[online(raw)["identity"]["userAssignedIdentityName"].upper()],
                primaryUserAssignedIdentity=online(raw)["identity"]["userAssignedIdentityName"].upper(),
            ),
            "workspace.identity.userAssignedIdentityNames[0]",
            "onlineEndpoints[0].identity.userAssignedIdentityName",
        ),
        (
            lambda raw: raw["dataStorage"].update(accountName=raw["workspace"]["storageAccountName"]),
            "dataStorage.accountName",
            "workspace.storageAccountName",
        ),
        (
            lambda raw: raw.update(monitoring={"logAnalytics": {"workspaceName": raw["workspace"]["logAnalyticsWorkspaceName"]}}),
            "monitoring.logAnalytics.workspaceName",
            "workspace.logAnalyticsWorkspaceName",
        ),
        (
            lambda raw: raw["dataStorage"].update(datastoreName="workspaceblobstore"),
            "dataStorage.datastoreName",
            "a datastore Azure ML creates",
        ),
    ],
    ids=["workspace-identity-is-an-endpoints", "data-account-is-the-workspaces", "log-analytics-twice", "system-datastore"],
)
def test_two_keys_naming_one_azure_resource_are_refused(mutate, key, other):
    raw = sandbox_raw()
    assert online(raw)["identity"]["type"] == "UserAssigned" and "batchEndpoints" not in raw
    parse_settings(raw)
    mutate(raw)
    message = refused(raw)
    assert f"{NS}:{key}: " in message and f"is also {other}" in message, message


@pytest.mark.parametrize("location", ["mars", "westeurop", "WestEurope", "westeuropeeast"])
def test_location_must_be_a_region_azure_lists(location):
    raw = sandbox_raw()
    raw["workspace"]["location"] = location
    assert f"{NS}:workspace.location: " in refused(raw)
    assert "regions list" in refused(raw)


def test_every_listed_region_is_a_location():
    raw = sandbox_raw()
    for region in ("swedencentral", "usgovvirginia", "chinanorth3"):
        raw["workspace"]["location"] = region
        assert parse_settings(raw).workspace.location == region


@pytest.mark.parametrize(
    "tags, rule",
    [
        ({"owner": "a", "costCenter": "x", "CostCenter": "y"}, "tag names must be unique, ignoring case"),
        ({"owner": "a", "Environment": "x"}, "set by the program on every resource"),
        ({"owner": "a", "managed-by": "x"}, "set by the program on every resource"),
    ],
)
def test_tag_names_are_case_insensitive(tags, rule):
    raw = dev_raw()
    raw["tags"] = tags
    assert rule in refused(raw)


# --- Azure's limits -----------------------------------------------------------------------------------------------


def test_request_timeout_at_most_three_minutes():
    raw = dev_raw()
    deployment = online(raw)["deployments"][0]
    deployment["requestSettings"] = {"requestTimeout": "PT3M"}
    parse_settings(raw)
    for too_long in ("PT3M0.5S", "PT181S", "PT1H"):
        deployment["requestSettings"] = {"requestTimeout": too_long}
        assert "longer than PT3M" in refused(raw)
    assert duration_seconds("PT1H2M3.5S") == 3723.5


def test_error_threshold_within_int32():
    raw = dev_raw()
    batch(raw)["deployments"][0]["errorThreshold"] = 2**31 - 1
    parse_settings(raw)
    batch(raw)["deployments"][0]["errorThreshold"] = 2**31
    assert "batchEndpoints[0].deployments[0].errorThreshold: Input should be less than or equal to 2147483647" in refused(raw)


def test_at_most_fifty_tags_with_the_programs_own():
    raw = dev_raw()
    raw["tags"] = {"owner": "a", **{f"t{i}": "v" for i in range(46)}}  # 47 + environment, stack, managed-by
    assert len(parse_settings(raw).tags_for("dev")) == 50
    raw["tags"]["one-more"] = "v"
    assert "48 tags plus the program's 3 exceed Azure's 50" in refused(raw)


def test_tag_names_fit_storage_accounts():
    raw = dev_raw()
    raw["tags"]["n" * 128] = "v"
    parse_settings(raw)
    raw["tags"]["n" * 129] = "v"
    assert "at most 128 characters on storage accounts" in refused(raw)


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: online(r)["deployments"][0].update(instanceCount=True), "onlineEndpoints[0].deployments[0].instanceCount"),
        (lambda r: online(r)["deployments"][0].update(instanceCount="yes"), "onlineEndpoints[0].deployments[0].instanceCount"),
        (lambda r: online(r)["deployments"][0].update(instanceCount="3"), "onlineEndpoints[0].deployments[0].instanceCount"),
        (lambda r: r.update(rolePropagationSeconds=False), "rolePropagationSeconds"),
        (lambda r: online(r).update(protect=1), "onlineEndpoints[0].protect"),
        (lambda r: online(r).update(protect="yes"), "onlineEndpoints[0].protect"),
        (lambda r: r["tags"].update(costCenter=12), "tags.costCenter"),
        (lambda r: online(r).update(traffic={"blue": True}), "onlineEndpoints[0].traffic"),
    ],
)
def test_strict_types(mutate, key):
    raw = dev_raw()
    mutate(raw)
    assert f"{NS}:{key}: " in refused(raw)


def test_json_numbers_from_the_cli_are_still_numbers():
    config = stack_config("dev")
    assert config[f"{NS}:rolePropagationSeconds"] == "120"  # the CLI passes every top-level scalar as text
    evaluation = evaluate("dev", config=config)
    assert any(r.type == "pulumi-python:dynamic:Resource" and int(r.inputs["seconds"]) == 120 for r in evaluation.registrations)


# --- stack files as the CLI reads them ----------------------------------------------------------------------------


def _stack_file(tmp_path, old: str, new: str):
    text = (project_dir() / "Pulumi.dev.yaml").read_text()
    assert old in text
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _preview(path, tmp_path, capsys):
    code = preview_main(["--stack", "dev", "--stack-file", str(path), "--graph", str(tmp_path / "g.mmd")])
    return code, capsys.readouterr()


def test_date_like_tag_value_stays_the_string_written(tmp_path, capsys):
    path = _stack_file(tmp_path, "    costCenter: ml-dev\n", "    costCenter: ml-dev\n    created: 2024-05-01\n")
    assert read_stack_file(path)[f"{NS}:tags"]["created"] == "2024-05-01"
    code, out = _preview(path, tmp_path, capsys)
    assert code == 0, out.err


def test_string_where_an_object_belongs_is_the_programs_key_named_error(tmp_path, capsys):
    path = _stack_file(
        tmp_path,
        "  azureml-endpoints:workspace:\n    name: mlw-endpoints-dev\n    resourceGroup: rg-ml-endpoints-dev\n",
        "  azureml-endpoints:workspace: mlw-endpoints-dev\n",
    )
    code, out = _preview(path, tmp_path, capsys)
    assert code == 1
    assert f"{NS}:workspace: Input should be an object" in out.err and "JSON" not in out.err


def test_duplicate_keys_are_refused_like_the_cli(tmp_path, capsys):
    path = _stack_file(tmp_path, "    costCenter: ml-dev\n", "    costCenter: ml-dev\n    owner: someone-else\n")
    code, out = _preview(path, tmp_path, capsys)
    assert code == 1
    assert out.err.strip().count("\n") == 0  # one line
    assert "mapping key 'owner' already defined at line" in out.err


def test_yes_in_a_stack_file_is_a_boolean_and_refused_as_a_count(tmp_path, capsys):
    path = _stack_file(
        tmp_path,
        "          instanceCount: 1\n          model: sklearn",
        "          instanceCount: yes\n          model: sklearn",
    )
    code, out = _preview(path, tmp_path, capsys)
    assert code == 1 and f"{NS}:onlineEndpoints[0].deployments[0].instanceCount: Input should be a valid integer" in out.err


def test_control_characters_are_quoted_in_messages():
    raw = dev_raw()
    online(raw)["name"] = "bad\nname\x1b[31m"
    online(raw)["deployments"][0]["environmentVariables"] = {"A": "b"}
    message = refused(raw)
    assert "'bad\\nname\\x1b[31m'" in message and "\x1b" not in message


def test_integral_floats_reach_the_program_as_integers_like_the_cli(tmp_path):
    path = _stack_file(
        tmp_path,
        "          instanceCount: 1\n          model: sklearn",
        "          instanceCount: 1.0\n          model: sklearn",
    )
    config = read_stack_file(path)
    assert config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["instanceCount"] == 1
    assert isinstance(config[f"{NS}:onlineEndpoints"][0]["deployments"][0]["instanceCount"], int)


# --- a batch endpoint's input (docs/batch.md#input-data) -------------------------------------------------------


@pytest.mark.parametrize(
    "given, key, rule",
    [
        ({"folder": "ml/no-such-data"}, "batchEndpoints[0].input.folder", "does not exist in the project (expected a folder)"),
        ({"folder": "ml/data/hello.txt"}, "batchEndpoints[0].input.folder", "does not exist in the project (expected a folder)"),
        ({"folder": "../outside"}, "batchEndpoints[0].input.folder", "is outside the project directory"),
        ({"folder": "ml/batch-data", "uri": "azureml:diabetes:1"}, "batchEndpoints[0].input", "name exactly one of folder"),
        ({}, "batchEndpoints[0].input", "name exactly one of folder"),
        ({"uri": "https://example.org/data/"}, "batchEndpoints[0].input.uri", "write azureml://datastores/<datastore>/paths/<path>"),
        ({"uri": "azureml:diabetes"}, "batchEndpoints[0].input.uri", "or a data asset azureml:<name>:<version>"),
        ({"path": "ml/batch-data"}, "batchEndpoints[0].input.path", "is not a known setting (known: folder, uri)"),
    ],
)
def test_batch_input_names_a_project_folder_or_data_in_azure(given, key, rule):
    raw = dev_raw()
    batch(raw)["input"] = given


# --- one rule per kind of value (issue 23 item 10) ----------------------------------------------------------------


def prod_raw() -> dict:
    stack = yaml.safe_load((project_dir() / "Pulumi.prod.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in stack.items()}


def action_group(raw):
    return raw["monitoring"]["actionGroup"]


GUID_DASHES = "-" * 36


@pytest.mark.parametrize(
    "mutate, key, rule",
    [
        (
            lambda r: action_group(r).update(webhooks=[{"name": "hook", "serviceUri": "https://hooks.example.com/a\n"}]),
            "monitoring.actionGroup.webhooks[0].serviceUri",
            "control characters or format characters (U+000A)",
        ),
        (
            lambda r: action_group(r).update(webhooks=[{"name": "hook", "serviceUri": "https://hooks.example.com/a\x00"}]),
            "monitoring.actionGroup.webhooks[0].serviceUri",
            "control characters or format characters (U+0000)",
        ),
        (
            lambda r: action_group(r).update(webhooks=[{"name": "hook", "serviceUri": "https://user@evil.example/a"}]),
            "monitoring.actionGroup.webhooks[0].serviceUri",
            "an https URL",
        ),
        (
            lambda r: action_group(r)["emails"][0].update(address="oncall@exa\x00mple.com"),
            "monitoring.actionGroup.emails[0].address",
            "U+0000",
        ),
        (
            lambda r: action_group(r)["emails"][0].update(address="oncall@exa\u200bmple.com"),
            "monitoring.actionGroup.emails[0].address",
            "U+200B",
        ),
        (lambda r: action_group(r).update(shortName="   "), "monitoring.actionGroup.shortName", "not only spaces"),
        (
            lambda r: r["monitoring"].update(
                logAnalytics={
                    "workspaceId": f"/subscriptions/{GUID_DASHES}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log-x"
                }
            ),
            "monitoring.logAnalytics.workspaceId",
            "a full ARM id",
        ),
    ],
    ids=["webhook-newline", "webhook-nul", "webhook-userinfo", "email-nul", "email-zero-width-space", "short-name-spaces", "dashes-guid"],
)
def test_values_no_receiver_or_arm_can_use_are_refused(mutate, key, rule):
    raw = prod_raw()
    parse_settings(raw)
    mutate(raw)
    message = refused(raw)
    assert f"{NS}:{key}: " in message and rule in message, message


@pytest.mark.parametrize(
    "uri",
    [
        "azureml://datastores/workspaceblobstore/paths/scoring/2026-12/",
        "azureml://subscriptions/0000/resourcegroups/rg-ml/workspaces/mlw-dev/datastores/landing/paths/in/",
        "azureml:heart-disease:3",
    ],
)
def test_batch_input_accepts_a_datastore_path_or_a_data_asset(uri):
    raw = dev_raw()
    batch(raw)["input"] = {"uri": uri}
    assert parse_settings(raw).batch_endpoints[0].input.uri == uri


def test_batch_input_folder_with_a_link_out_of_the_project_is_refused(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(project_dir(), project)
    (tmp_path / "secret.txt").write_text("not for upload")
    (project / "ml/batch-data/leak.csv").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    message = refused(dev_raw())
    assert f"{NS}:batchEndpoints[0].input.folder: " in message
    assert "ml/batch-data/leak.csv is a symbolic link to" in message and "outside the repository: refused" in message


def test_az_ml_batch_settings_block_says_what_to_write_instead():
    raw = dev_raw()
    batch(raw)["deployments"][0]["settings"] = {"mini_batch_size": 10, "retry_settings": {"max_retries": 3}}
    message = refused(raw)
    assert f"{NS}:batchEndpoints[0].deployments[0]: " in message
    assert (
        "settings: the az ml batch deployment block; write miniBatchSize, retrySettings: {maxRetries, timeout} on the deployment" in message
    )


def test_application_insights_name_with_control_characters_is_refused():
    raw = sandbox_raw()
    raw["workspace"]["applicationInsightsName"] = "appi\x07sandbox"
    assert (
        f"{NS}:workspace.applicationInsightsName: 'appi\\x07sandbox' contains control characters or format characters (U+0007)"
        in refused(raw)
    )


def test_every_name_rule_refuses_format_characters():
    from azureml_endpoints.config import names

    rules = [v for v in vars(names).values() if isinstance(v, names.NameRule)]
    assert len(rules) > 20
    for rule in rules:
        with pytest.raises(ValueError, match="control characters or format characters"):
            rule.check("ab\u200bcdef")


def test_a_time_window_shorter_than_the_time_grain_is_refused():
    raw = prod_raw()
    online(raw)["deployments"][0]["autoscale"]["rules"] = [
        {"metric": "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": 70, "direction": "Increase", "timeWindow": "PT30S"}
    ]
    assert "a time window is 5 minutes to 12 hours" in refused(raw)


def test_the_public_regions_are_the_physical_regions_azure_lists():
    """AZURE_PUBLIC_REGIONS equals `az account list-locations`'s physical regions, as Azure Verified Modules caches
    them (tests/data/README.md): a region added or renamed there fails here until names.py follows."""
    from azureml_endpoints.config.names import AZURE_PUBLIC_REGIONS

    listed = json.loads((REPO / "tests/data/azure/locations.tf.json").read_text())["locals"]["locations_cached"]["value"]
    physical = {region["name"] for region in listed if region["metadata"]["regionType"] == "Physical"}
    assert AZURE_PUBLIC_REGIONS == physical
