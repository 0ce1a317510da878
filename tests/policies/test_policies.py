"""Each rule of the pack, called directly on the real policy objects (no gRPC, no program)."""

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from azureml_endpoints.azure.roles import ROLE_DEFINITIONS
from guardrails import ALL_POLICIES, api_versions, common, endpoints, identity, registry, roles, storage
from tests.support.policies import ACCOUNT, RG, SUB, UAI_ID, check, role


def endpoint(identity_=None, auth="AADToken", **properties):
    return {
        "resourceGroupName": "rg-ml",
        "workspaceName": "mlw",
        "endpointName": "ep",
        "identity": identity_ if identity_ is not None else {"type": "UserAssigned", "userAssignedIdentities": [UAI_ID]},
        "properties": {"authMode": auth, **properties},
    }


def test_pack_and_program_agree_on_role_definitions():
    assert common.STORAGE_BLOB_DATA_READER == ROLE_DEFINITIONS["Storage Blob Data Reader"]
    assert common.ACR_PULL == ROLE_DEFINITIONS["AcrPull"]


def test_policy_names_are_unique_and_described():
    names = [p.name for p in ALL_POLICIES]
    assert len(names) == len(set(names)) == 38
    assert all(len(p.description) > 20 for p in ALL_POLICIES)


@pytest.mark.parametrize(
    "guid, expected",
    [
        (common.STORAGE_BLOB_DATA_READER, None),
        (common.ACR_PULL, None),
        (common.OWNER, "Owner is never granted"),
        (common.CONTRIBUTOR, None),  # a created workspace's role set: workspace-identity-roles judges principal and scope
        (common.KEY_VAULT_ADMINISTRATOR, None),
        (common.USER_ACCESS_ADMINISTRATOR, "User Access Administrator is never granted"),
        ("acdd72a7-3385-48ef-bd42-f606fba81ae7", "not one the product needs"),
    ],
)
def test_allowed_roles(guid, expected):
    found = check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(guid))
    assert (found == []) if expected is None else (expected in found[0])


def test_additional_roles_come_from_config():
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    config = {"additionalRoleDefinitionIds": [reader.upper()]}
    assert check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(reader), config=config) == []


@pytest.mark.parametrize(
    "scope, expected",
    [
        (ACCOUNT, None),
        (f"{RG}/providers/Microsoft.ContainerRegistry/registries/cr1", None),
        (SUB, "subscription or management group scope"),
        (RG, "resource group scope"),
        ("/providers/Microsoft.Management/managementGroups/mg1", "subscription or management group scope"),
        ("/", "subscription or management group scope"),
    ],
)
def test_role_scope(scope, expected):
    found = check(roles.role_assignment_resource_scope, common.ROLE_ASSIGNMENT, role(common.ACR_PULL, scope=scope))
    assert (found == []) if expected is None else (expected in found[0])


def test_principal_type_required():
    assert check(roles.role_assignment_principal_type, common.ROLE_ASSIGNMENT, role(common.ACR_PULL, principal_type=None))
    assert not check(roles.role_assignment_principal_type, common.ROLE_ASSIGNMENT, role(common.ACR_PULL))


def test_custom_role_wildcards():
    wide = {"permissions": [{"actions": ["Microsoft.Storage/*/read"], "dataActions": ["*"]}]}
    narrow = {
        "permissions": [{"actions": [], "dataActions": ["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"]}]
    }
    assert "['*', 'Microsoft.Storage/*/read']" in check(roles.custom_role_no_wildcards, common.ROLE_DEFINITION, wide)[0]
    assert check(roles.custom_role_no_wildcards, common.ROLE_DEFINITION, narrow) == []


SECURE_ACCOUNT = {
    "accountName": "stdata",
    "minimumTlsVersion": "TLS1_2",
    "enableHttpsTrafficOnly": True,
    "allowBlobPublicAccess": False,
    "allowCrossTenantReplication": False,
}


@pytest.mark.parametrize(
    "policy, change, expected",
    [
        (storage.storage_min_tls, {"minimumTlsVersion": "TLS1_0"}, "minimumTlsVersion is TLS1_0"),
        (storage.storage_min_tls, {"minimumTlsVersion": None}, "unset"),
        (storage.storage_https_only, {"enableHttpsTrafficOnly": False}, "plain HTTP"),
        (storage.storage_no_public_blob_access, {"allowBlobPublicAccess": True}, "allowBlobPublicAccess"),
        (storage.storage_no_public_blob_access, {"allowBlobPublicAccess": None}, "allowBlobPublicAccess"),
        (storage.storage_no_cross_tenant_replication, {"allowCrossTenantReplication": True}, "another tenant"),
    ],
)
def test_storage_account_rules(policy, change, expected):
    assert check(policy, common.STORAGE_ACCOUNT, SECURE_ACCOUNT) == []
    insecure = {k: v for k, v in {**SECURE_ACCOUNT, **change}.items() if v is not None}
    assert expected in check(policy, common.STORAGE_ACCOUNT, insecure)[0]


def test_storage_rules_do_not_pass_unknowns_as_secure_values():
    # An unknown TLS version is not judged (it is decided at apply time), never reported as "unset".
    unknown = {**SECURE_ACCOUNT, "minimumTlsVersion": UNKNOWN_STRING_VALUE}
    assert check(storage.storage_min_tls, common.STORAGE_ACCOUNT, unknown) == []


def test_containers_stay_private():
    assert check(storage.storage_private_containers, common.BLOB_CONTAINER, {"publicAccess": "None"}) == []
    assert "publicAccess is Blob" in check(storage.storage_private_containers, common.BLOB_CONTAINER, {"publicAccess": "Blob"})[0]


def test_registry_rules():
    assert check(registry.registry_admin_user_disabled, common.REGISTRY, {"adminUserEnabled": True})
    assert check(registry.registry_anonymous_pull_disabled, common.REGISTRY, {"anonymousPullEnabled": True})
    assert not check(registry.registry_admin_user_disabled, common.REGISTRY, {"adminUserEnabled": False})


def test_endpoint_rules():
    assert "authMode is Key" in check(endpoints.endpoint_entra_auth, common.ONLINE_ENDPOINT, endpoint(auth="Key"))[0]
    assert not check(endpoints.endpoint_entra_auth, common.ONLINE_ENDPOINT, endpoint())
    assert check(endpoints.endpoint_public_network_access, common.ONLINE_ENDPOINT, endpoint())
    assert not check(endpoints.endpoint_public_network_access, common.ONLINE_ENDPOINT, endpoint(publicNetworkAccess="Disabled"))
    deployment = {"sku": {"name": "Default", "capacity": 2.0}}
    assert "at least 3" in check(endpoints.deployment_min_instances, common.ONLINE_DEPLOYMENT, deployment, config={"minInstances": 3})[0]
    assert not check(endpoints.deployment_min_instances, common.ONLINE_DEPLOYMENT, deployment, config={"minInstances": 2})
    # policy config arrives as a protobuf Struct: 10 is the double 10.0, and a 3-instance deployment is short of it
    three = {"sku": {"name": "Default", "capacity": 3.0}}
    found = check(endpoints.deployment_min_instances, common.ONLINE_DEPLOYMENT, three, config={"minInstances": 10.0})
    assert found and "at least 10" in found[0], found


def test_identity_must_be_explicit():
    assert "'None'" in check(identity.endpoint_identity_explicit, common.ONLINE_ENDPOINT, endpoint({"type": "None"}))[0]
    assert check(identity.endpoint_identity_explicit, common.ONLINE_ENDPOINT, endpoint({"type": "UserAssigned"}))
    missing = endpoint()
    del missing["identity"]
    assert check(identity.endpoint_identity_explicit, common.ONLINE_ENDPOINT, missing)
    assert not check(identity.endpoint_identity_explicit, common.ONLINE_ENDPOINT, endpoint({"type": "SystemAssigned"}))


def test_protection_only_where_required():
    assert check(identity.endpoint_protected, common.ONLINE_ENDPOINT, endpoint(), config={"required": True})
    assert not check(identity.endpoint_protected, common.ONLINE_ENDPOINT, endpoint(), protect=True, config={"required": True})
    assert not check(identity.endpoint_protected, common.ONLINE_ENDPOINT, endpoint(), config={"required": False})


BASELINE = {"endpoints": {"rg-ml/mlw/ep": {"type": "UserAssigned", "userAssignedIdentities": [UAI_ID]}}}


@pytest.mark.parametrize(
    "proposed, expected",
    [
        ({"type": "UserAssigned", "userAssignedIdentities": [UAI_ID.upper()]}, None),  # ARM ids are case-insensitive
        ({"type": "SystemAssigned"}, "type UserAssigned -> SystemAssigned"),
        ({"type": "UserAssigned", "userAssignedIdentities": [UAI_ID.replace("id-a", "id-b")]}, "user-assigned identities"),
        ({"type": "UserAssigned", "userAssignedIdentities": [UNKNOWN_STRING_VALUE]}, "an identity that does not exist yet"),
        ({"type": "UserAssigned", "userAssignedIdentities": UNKNOWN_STRING_VALUE}, "an identity that does not exist yet"),
        ({"type": UNKNOWN_STRING_VALUE}, "identity type is not known yet"),
    ],
)
def test_identity_baseline(proposed, expected):
    found = check(identity.endpoint_identity_baseline, common.ONLINE_ENDPOINT, endpoint(proposed), config=BASELINE)
    if expected is None:
        assert found == []
    else:
        assert expected in found[0] and "new endpoint under a new name" in found[0]


def test_new_endpoints_pass_the_baseline():
    new = endpoint({"type": "SystemAssigned"})
    new["endpointName"] = "ep-v2"
    assert check(identity.endpoint_identity_baseline, common.ONLINE_ENDPOINT, new, config=BASELINE) == []


def test_batch_endpoints_are_system_assigned():
    assert check(identity.batch_endpoint_identity, common.BATCH_ENDPOINT, endpoint())
    assert not check(identity.batch_endpoint_identity, common.BATCH_ENDPOINT, endpoint({"type": "SystemAssigned"}))


def test_no_preview_api_versions():
    assert check(api_versions.no_preview_api_versions, "azure-native:machinelearningservices/v20240101preview:OnlineEndpoint", {})
    assert not check(api_versions.no_preview_api_versions, common.ONLINE_ENDPOINT, {})


def test_pipeline_roles_only_where_the_stack_config_lists_them():
    rbac_admin, contributor = common.RBAC_ADMINISTRATOR, common.CONTRIBUTOR
    listed = {"additionalRoleDefinitionIds": [rbac_admin, contributor]}
    assert "never granted to a workload identity" in check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(rbac_admin))[0]
    assert check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(contributor), config=listed) == []
    unconditioned = check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(rbac_admin), config=listed)
    assert "without a condition can grant any role" in unconditioned[0]
    conditioned = {**role(rbac_admin), "condition": "((!(ActionMatches{'x'})))", "conditionVersion": "2.0"}
    assert check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, conditioned, config=listed) == []
    owner_listed = {"additionalRoleDefinitionIds": [common.OWNER]}
    assert (
        "Owner is never granted"
        in check(roles.role_assignment_allowed_roles, common.ROLE_ASSIGNMENT, role(common.OWNER), config=owner_listed)[0]
    )


def test_resource_group_scope_only_for_listed_pipeline_roles():
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    config = {"resourceGroupScopeRoleDefinitionIds": [reader]}
    assert check(roles.role_assignment_resource_scope, common.ROLE_ASSIGNMENT, role(reader, scope=RG), config=config) == []
    assert check(roles.role_assignment_resource_scope, common.ROLE_ASSIGNMENT, role(common.ACR_PULL, scope=RG), config=config)
    assert check(roles.role_assignment_resource_scope, common.ROLE_ASSIGNMENT, role(reader, scope=SUB), config=config)
