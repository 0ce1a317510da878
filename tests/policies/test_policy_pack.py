"""The real pack, started as a process the way the engine starts it, driven over the Analyzer gRPC protocol."""

import copy
import json

import grpc
import pytest

from azureml_endpoints.cli.baseline import endpoint_identities, merged_config
from azureml_endpoints.cli.baseline import main as baseline_main
from azureml_endpoints.offline.arm_mocks import Registration
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import load_policy_config
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config
from tests.support.policies import stack_export
from tests.support.private_stacks import with_registry_model

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine sends a value not known during preview
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@pytest.fixture(scope="module")
def dev_resources():
    return evaluate("dev").registrations


@pytest.fixture(scope="module")
def prod_resources():
    return evaluate("prod").registrations


def mandatory(violations):
    return [v for v in violations if v.level == "mandatory"]


def mutated(resources, name, change):
    """A copy of the resources with one resource's inputs changed by `change(inputs)`."""
    result = copy.deepcopy(resources)
    target = next(r for r in result if r.name == name)
    change(target.inputs)
    return result


def test_pack_describes_itself(pack):
    info = pack.info()
    assert info.name == "azureml-endpoints-guardrails"
    assert len(info.policies) == 38
    assert all(p.description for p in info.policies)


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_shipped_stack_has_no_mandatory_violation(pack, stack):
    violations = pack.check(evaluate(stack).registrations, load_policy_config(stack))
    assert mandatory(violations) == []


def test_dev_gets_guidance_prod_would_refuse(pack, dev_resources):
    levels = pack.configure(load_policy_config("dev"))
    assert levels["endpoint-entra-auth"] == "advisory" and levels["storage-min-tls-1-2"] == "mandatory"
    violations = pack.check(dev_resources, load_policy_config("dev"))
    assert {(v.policy, v.level, v.resource_name) for v in violations} == {
        ("endpoint-entra-auth", "advisory", "mi-uai-dev-endpoint"),
        ("deployment-min-instances", "advisory", "mi-uai-dev-blue"),
    }
    as_prod = mandatory(pack.check(dev_resources, load_policy_config("prod")))
    assert {v.policy for v in as_prod} == {
        "endpoint-entra-auth",
        "deployment-min-instances",
        "endpoint-protected",
    }


def _set(path, value):
    def change(inputs):
        target = inputs
        for key in path[:-1]:
            target = target[key]
        if value is None:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value

    return change


INSECURE_DEV = [
    ("data-account", ("minimumTlsVersion",), "TLS1_0", "storage-min-tls-1-2"),
    ("data-account", ("enableHttpsTrafficOnly",), False, "storage-https-only"),
    ("data-account", ("allowBlobPublicAccess",), True, "storage-no-public-blob-access"),
    ("data-account", ("allowCrossTenantReplication",), True, "storage-no-cross-tenant-replication"),
    ("data-container", ("publicAccess",), "Container", "storage-container-private"),
    (
        "mi-uai-dev-roles-data-blob-reader",
        ("roleDefinitionId",),
        f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
        "role-assignment-allowed-roles",
    ),
    (
        "mi-uai-dev-roles-data-blob-reader",
        ("scope",),
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-ml-endpoints-dev",
        "role-assignment-resource-scope",
    ),
    ("mi-uai-dev-roles-registry-acr-pull", ("principalType",), None, "role-assignment-principal-type"),
    ("mi-uai-dev-endpoint", ("identity",), {"type": "None"}, "endpoint-identity-explicit"),
]


@pytest.mark.parametrize("name, path, value, policy", INSECURE_DEV, ids=[c[3] for c in INSECURE_DEV])
def test_insecure_variant_is_refused(pack, dev_resources, name, path, value, policy):
    violations = mandatory(pack.check(mutated(dev_resources, name, _set(path, value)), load_policy_config("dev")))
    assert [(v.policy, v.resource_name) for v in violations] == [(policy, name)]


INSECURE_PROD = [
    ("mi-uai-prod-endpoint", ("properties", "authMode"), "Key", "endpoint-entra-auth"),
    ("mi-uai-prod-blue", ("sku", "capacity"), 1, "deployment-min-instances"),
    ("mi-uai-prod-endpoint", ("properties", "publicNetworkAccess"), None, "endpoint-public-network-access-stated"),
]


@pytest.mark.parametrize("name, path, value, policy", INSECURE_PROD, ids=[c[3] for c in INSECURE_PROD])
def test_prod_is_stricter(pack, prod_resources, name, path, value, policy):
    violations = mandatory(pack.check(mutated(prod_resources, name, _set(path, value)), load_policy_config("prod")))
    assert [(v.policy, v.resource_name) for v in violations] == [(policy, name)]
    assert mandatory(pack.check(mutated(prod_resources, name, _set(path, value)), load_policy_config("dev"))) == []


def test_unprotected_prod_endpoint_is_refused(pack, prod_resources):
    resources = copy.deepcopy(prod_resources)
    next(r for r in resources if r.name == "mi-uai-prod-endpoint").protect = False
    violations = mandatory(pack.check(resources, load_policy_config("prod")))
    assert [(v.policy, v.resource_name) for v in violations] == [("endpoint-protected", "mi-uai-prod-endpoint")]


def test_stack_policy_needs_the_workspace_roles_of_a_uai(pack, dev_resources):
    without_acr = [r for r in dev_resources if r.name != "mi-uai-dev-roles-registry-acr-pull"]
    violations = mandatory(pack.check(without_acr, load_policy_config("dev")))
    assert [v.policy for v in violations] == ["uai-endpoint-workspace-roles"]
    assert "lacks AcrPull on the workspace registry" in violations[0].message
    without_workspace_reader = [r for r in dev_resources if r.name != "mi-uai-dev-roles-workspace-blob-reader"]
    (violation,) = mandatory(pack.check(without_workspace_reader, load_policy_config("dev")))
    assert "lacks Storage Blob Data Reader on the workspace storage" in violation.message


def test_shared_keys_only_where_blobs_are_uploaded(pack, dev_resources):
    without_upload = [r for r in dev_resources if not (r.type == "azure-native:storage:Blob" and r.name.startswith("data-"))]
    (violation,) = mandatory(pack.check(without_upload, load_policy_config("dev")))
    assert violation.policy == "storage-shared-key-only-for-uploads" and violation.resource_name == "data-account"


def synthetic(type_, name, inputs) -> Registration:
    return Registration(
        urn=f"urn:pulumi:dev::azureml-endpoints::{type_}::{name}",
        type=type_,
        name=name,
        parent="",
        custom=True,
        inputs=inputs,
        outputs={},
        id="",
        dependencies=[],
        property_dependencies={},
        protect=False,
        replace_on_changes=[],
        ignore_changes=[],
        delete_before_replace=False,
        retain_on_delete=False,
        custom_timeouts={},
    )


EXTRA = [
    (
        synthetic("azure-native:containerregistry:Registry", "cr", {"adminUserEnabled": True, "publicNetworkAccess": "Enabled"}),
        "registry-admin-user-disabled",
    ),
    (
        synthetic("azure-native:containerregistry:Registry", "cr", {"anonymousPullEnabled": True, "publicNetworkAccess": "Enabled"}),
        "registry-anonymous-pull-disabled",
    ),
    (
        synthetic("azure-native:authorization:RoleDefinition", "role", {"permissions": [{"actions": ["*"]}]}),
        "custom-role-no-wildcard-actions",
    ),
    (synthetic("azure-native:machinelearningservices/v20240101preview:Workspace", "ws", {}), "no-preview-api-versions"),
    (
        synthetic(
            "azure-native:machinelearningservices:BatchEndpoint",
            "batch",
            {"identity": {"type": "UserAssigned", "userAssignedIdentities": ["/x"]}},
        ),
        "batch-endpoint-system-assigned",
    ),
]


@pytest.mark.parametrize("resource, policy", EXTRA, ids=[e[1] for e in EXTRA])
def test_insecure_extra_resource_is_refused(pack, dev_resources, resource, policy):
    violations = mandatory(pack.check([*dev_resources, resource], load_policy_config("dev")))
    assert [(v.policy, v.resource_name) for v in violations] == [(policy, resource.name)]


# --- identity baseline --------------------------------------------------------------------------------------------


def test_baseline_reads_the_identity_azure_reports(dev_resources):
    uai = next(r for r in dev_resources if r.name == "mi-uai-dev-identity")
    assert endpoint_identities(stack_export(dev_resources)) == {
        "rg-ml-endpoints-dev/mlw-endpoints-dev/mi-uai-dev": {"type": "UserAssigned", "userAssignedIdentities": [uai.id]},
        "rg-ml-endpoints-dev/mlw-endpoints-dev/batch-dev": {"type": "SystemAssigned"},
    }


def test_baseline_command_merges_into_the_stack_config(tmp_path, capsys, dev_resources):
    export = tmp_path / "state.json"
    export.write_text(json.dumps(stack_export(dev_resources)))
    assert baseline_main([str(export), "--stack", "dev"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["endpoint-entra-auth"] == "advisory"  # the rest of policies/config/dev.json is kept
    assert printed["endpoint-identity-baseline"]["enforcementLevel"] == "mandatory"
    assert sorted(printed["endpoint-identity-baseline"]["endpoints"]) == [
        "rg-ml-endpoints-dev/mlw-endpoints-dev/batch-dev",
        "rg-ml-endpoints-dev/mlw-endpoints-dev/mi-uai-dev",
    ]
    export.write_text('{"version": 3}')
    assert baseline_main([str(export), "--stack", "dev"]) == 1
    assert "no 'deployment' object" in capsys.readouterr().err


def test_baseline_over_grpc(pack, dev_resources):
    config = merged_config("dev", stack_export(dev_resources))
    assert mandatory(pack.check(dev_resources, config)) == []

    to_system = mutated(dev_resources, "mi-uai-dev-endpoint", _set(("identity",), {"type": "SystemAssigned"}))
    (violation,) = mandatory(pack.check(to_system, config))
    assert violation.policy == "endpoint-identity-baseline" and violation.resource_name == "mi-uai-dev-endpoint"
    assert "type UserAssigned -> SystemAssigned" in violation.message and "new name" in violation.message

    # Preview of a swap to an identity still to be created: its id is unknown, and that is a change too.
    to_new_uai = mutated(dev_resources, "mi-uai-dev-endpoint", _set(("identity", "userAssignedIdentities"), [UNKNOWN]))
    (violation,) = mandatory(pack.check(to_new_uai, config))
    assert "an identity that does not exist yet" in violation.message

    renamed = mutated(to_system, "mi-uai-dev-endpoint", _set(("endpointName",), "mi-sai-dev-v2"))
    assert mandatory(pack.check(renamed, config)) == []


def test_config_naming_an_unknown_policy_is_refused(pack):
    with pytest.raises(ValueError, match="no-such-policy"):
        pack.configure({"no-such-policy": "mandatory"})


@pytest.mark.parametrize(
    "config, line",
    [
        (
            {"endpoint-protected": {"requird": True}},
            "endpoint-protected.requird: not a setting of this policy; did you mean 'required'? (settings: required)",
        ),
        ({"workspace-identity-baseline": {"workspaces": []}}, "workspace-identity-baseline.workspaces: must be an object, not a list ([])"),
        (
            {"deployment-min-instances": {"minInstances": "10"}},
            "deployment-min-instances.minInstances: must be an integer, not a string ('10')",
        ),
        (
            {"deployment-min-instances": {"minInstances": 2.5}},
            "deployment-min-instances.minInstances: must be an integer, not a number (2.5)",
        ),
        (
            {"role-assignment-allowed-roles": {"additionalRoleDefinitionIds": ["a", 1]}},
            "role-assignment-allowed-roles.additionalRoleDefinitionIds: must list strings only, not 1.0",
        ),
    ],
)
def test_unknown_or_ill_typed_policy_config_fails_the_pack_load_in_one_line(pack, config, line):
    with pytest.raises(grpc.RpcError) as refused:
        pack.configure(config)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == f"invalid policy config: {line}"


def test_numbers_as_the_engine_sends_them_configure_the_pack(pack):
    assert pack.configure({"deployment-min-instances": {"minInstances": 10}})["deployment-min-instances"] == "advisory"


# --- the private path (guardrails/network.py) ---------------------------------------------------------------------

PRIVATE_SUBNET_OF = "workspace-amlworkspace-private-endpoint-endpoint"
CHINA_ZONE = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.api.ml.azure.cn"


@pytest.fixture(scope="module")
def private_resources():
    return evaluate("sandbox-private").registrations


def _fqdn_rule(host):
    return synthetic(
        "azure-native:machinelearningservices:ManagedNetworkSettingsRule",
        "fqdn-rule",
        {
            "ruleName": "fqdn",
            "resourceGroupName": "rg-ml-endpoints-sbx-private",
            "workspaceName": "mlw-endpoints-sbx-private",
            "properties": {"type": "FQDN", "category": "UserDefined", "destination": host},
        },
    )


def _zones_to(zone_id):
    def change(inputs):
        inputs["privateDnsZoneConfigs"][0]["privateDnsZoneId"] = zone_id

    return change


# The "Bad input" cases the pack can see, each on the shipped private stack.
PRIVATE_BAD = [
    (
        "endpoint-public",
        "mi-uai-sbx-private-endpoint",
        _set(("properties", "publicNetworkAccess"), "Enabled"),
        [],
        "private-network-access",
    ),
    ("workspace-public", "workspace-workspace", _set(("publicNetworkAccess",), "Enabled"), [], "private-network-access"),
    ("storage-public", "data-account", _set(("publicNetworkAccess",), "Enabled"), [], "private-network-access"),
    ("no-subnet", PRIVATE_SUBNET_OF, _set(("subnet",), None), [], "private-endpoint-subnet"),
    (
        "not-a-subnet",
        PRIVATE_SUBNET_OF,
        _set(
            ("subnet",),
            {"id": "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"},
        ),
        [],
        "private-endpoint-subnet",
    ),
    ("basic-registry", "workspace-registry", _set(("sku",), {"name": "Basic"}), [], "registry-sku-private-access"),
    ("storage-as-fqdn", None, None, [_fqdn_rule("stdata.blob.core.windows.net")], "outbound-fqdn-not-storage"),
    (
        "rule-to-no-id",
        "managed-network-data-storage-blob",
        _set(("properties", "destination", "serviceResourceId"), "stmlepsbxpdata"),
        [],
        "outbound-private-endpoint-target",
    ),
    (
        "registry-group-on-storage",
        "managed-network-data-storage-blob",
        _set(("properties", "destination", "subresourceTarget"), "amlregistry"),
        [],
        "outbound-private-endpoint-target",
    ),
]


@pytest.mark.parametrize("case, name, change, extra, policy", PRIVATE_BAD, ids=[c[0] for c in PRIVATE_BAD])
def test_private_bad_input_is_refused(pack, private_resources, case, name, change, extra, policy):
    resources = mutated(private_resources, name, change) if name else copy.deepcopy(private_resources)
    violations = mandatory(pack.check([*resources, *extra], load_policy_config("sandbox-private")))
    assert [(v.policy, v.resource_name) for v in violations] == [(policy, name or extra[0].name)]


def test_a_rule_to_a_listed_registry_passes_and_a_malformed_one_is_refused(pack):
    resources = evaluate("sandbox-private", config=with_registry_model(stack_config("sandbox-private"))).registrations
    assert mandatory(pack.check(resources, load_policy_config("sandbox-private"))) == []
    rule = "managed-network-registry-shared-models"
    for path, value in ((("subresourceTarget",), "registry"), (("serviceResourceId",), "shared-models")):
        bad = mutated(resources, rule, _set(("properties", "destination", *path), value))
        violations = mandatory(pack.check(bad, load_policy_config("sandbox-private")))
        assert [(v.policy, v.resource_name) for v in violations] == [("outbound-private-endpoint-target", rule)], value


def test_fqdn_rule_in_allow_internet_outbound_is_refused(pack, private_resources):
    internet = mutated(private_resources, "workspace-workspace", _set(("managedNetwork", "isolationMode"), "AllowInternetOutbound"))
    violations = mandatory(pack.check([*internet, _fqdn_rule("pypi.org")], load_policy_config("sandbox-private")))
    assert [(v.policy, v.resource_name) for v in violations] == [("outbound-fqdn-approved-outbound-only", "fqdn-rule")]


def test_zones_of_another_cloud_are_refused(pack, private_resources):
    resources = mutated(private_resources, "workspace-amlworkspace-private-endpoint-zones", _zones_to(CHINA_ZONE))
    violations = mandatory(pack.check(resources, load_policy_config("sandbox-private")))
    assert {v.policy for v in violations} == {"private-dns-zones-one-cloud"}
    assert "workspace-amlworkspace-private-endpoint-zones" in {v.resource_name for v in violations}


def test_a_public_stack_is_refused_where_private_networking_is_required(pack, dev_resources):
    config = {**load_policy_config("dev"), "private-network-access": {"enforcementLevel": "mandatory", "required": True}}
    refused = {(v.policy, v.resource_name) for v in mandatory(pack.check(dev_resources, config))}
    assert refused >= {("private-network-access", "mi-uai-dev-endpoint"), ("private-network-access", "data-account")}
    assert {p for p, _ in refused} == {"private-network-access"}


def test_isolation_baseline_from_state_refuses_a_backward_mode(pack, private_resources):
    config = merged_config("sandbox-private", stack_export(private_resources))
    key = "rg-ml-endpoints-sbx-private/mlw-endpoints-sbx-private"
    assert config["workspace-isolation-baseline"]["workspaces"] == {key: "AllowOnlyApprovedOutbound"}
    assert "isolationMode" not in config["workspace-identity-baseline"]["workspaces"][key]
    assert mandatory(pack.check(private_resources, config)) == []
    backward = mutated(private_resources, "workspace-workspace", _set(("managedNetwork", "isolationMode"), "AllowInternetOutbound"))
    (violation,) = mandatory(pack.check(backward, config))
    assert violation.policy == "workspace-isolation-baseline" and "only moves forward" in violation.message
