"""Callers of Entra-token endpoints: groups with the invoker role at the endpoint's scope, and nothing else."""

import pytest

from azureml_endpoints.azure.roles import invoker_role_guid
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import PolicyPackServer, load_policy_config
from azureml_endpoints.pulumi_io.stack_files import stack_config
from guardrails import common

RA = "azure-native:authorization:RoleAssignment"
ENDPOINTS = "azureml-endpoints:onlineEndpoints"
EXISTING_GROUP = "5b6f2a8e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.fixture(scope="module")
def callers():
    return evaluate("entra-callers-example")


def invoker_assignments(evaluation):
    return [r for r in evaluation.of_type(RA) if "-callers-" in r.name]


def test_created_group_gets_the_invoker_role_on_the_endpoint(callers):
    (group,) = callers.of_type("azuread:index/group:Group")
    assert group.inputs["displayName"] == "ml-endpoint-callers-dev" and group.inputs["securityEnabled"] is True
    (assignment,) = invoker_assignments(callers)
    endpoint = callers.named("mi-entra-dev-endpoint")
    assert assignment.inputs["scope"] == endpoint.id
    assert assignment.inputs["principalId"] == group.outputs["objectId"]
    assert assignment.inputs["principalType"] == "Group"
    assert assignment.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{invoker_role_guid(SUBSCRIPTION_ID)}"
    )
    assert callers.outputs["onlineEndpoints"]["mi-entra-dev"]["callerGroupObjectIds"] == [group.outputs["objectId"]]


def test_existing_groups_by_object_id():
    config = stack_config("entra-callers-example")
    config[ENDPOINTS][0]["callers"] = {"groupObjectIds": [EXISTING_GROUP]}
    evaluation = evaluate("entra-callers-example", config=config)
    assert not evaluation.of_type("azuread:index/group:Group")
    (assignment,) = invoker_assignments(evaluation)
    assert assignment.inputs["principalId"] == EXISTING_GROUP


@pytest.mark.parametrize("auth_mode", ["Key", "AMLToken"])
def test_key_and_aml_token_endpoints_refuse_callers(auth_mode):
    config = stack_config("entra-callers-example")
    config[ENDPOINTS][0]["authMode"] = auth_mode
    evaluation = evaluate("entra-callers-example", config=config, raise_errors=False)
    assert isinstance(evaluation.error, SettingsError) and evaluation.registrations == []
    assert f"azureml-endpoints:onlineEndpoints[0].callers: only endpoints with authMode AADToken take callers; with {auth_mode}" in str(
        evaluation.error
    )


def test_bad_group_object_id_refused():
    config = stack_config("entra-callers-example")
    config[ENDPOINTS][0]["callers"] = {"groupObjectIds": ["not-a-guid"]}
    evaluation = evaluate("entra-callers-example", config=config, raise_errors=False)
    assert "azureml-endpoints:onlineEndpoints[0].callers.groupObjectIds[0]: 'not-a-guid' is not valid: an Entra object id (GUID)" in str(
        evaluation.error
    )


def test_pack_and_program_derive_the_same_invoker_role():
    definition = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/x"
    assert common.invoker_guid(definition) == invoker_role_guid(SUBSCRIPTION_ID)


def test_pack_accepts_invokers_on_an_endpoint_only(callers):
    resources = callers.registrations
    with PolicyPackServer() as pack:
        assert [v for v in pack.check(resources, load_policy_config("dev")) if v.level == "mandatory"] == []
        (assignment,) = invoker_assignments(callers)
        assignment.inputs["scope"] = (
            f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml-endpoints-dev/providers/Microsoft.Storage/storageAccounts/stmlepcallersdata"
        )
        (violation,) = [v for v in pack.check(resources, load_policy_config("dev")) if v.level == "mandatory"]
    assert violation.policy == "role-assignment-allowed-roles" and "grant it on the one online endpoint" in violation.message


def test_a_preview_never_lists_endpoint_keys(dev):
    assert [c for c in dev.mocks.calls if c[0].endswith("listOnlineEndpointKeys")]
    preview = evaluate("dev", preview=True)
    assert not [c for c in preview.mocks.calls if c[0].endswith("listOnlineEndpointKeys")]
    assert preview.outputs["onlineEndpointKeys"]["value"] == {}  # still a secret output, filled by `up`
