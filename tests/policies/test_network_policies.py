"""The private-path rules (guardrails/network.py), each called directly on the real policy objects."""

import json

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from azureml_endpoints.azure.clouds import storage_suffixes
from guardrails import common, network
from tests.support.policies import RG, check, check_stack

SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet-pe"
WS = {"resourceGroupName": "rg-ml", "workspaceName": "mlw"}


def workspace(mode=None, access="Disabled"):
    props = {**WS, "publicNetworkAccess": access}
    if mode:
        props["managedNetwork"] = {"isolationMode": mode}
    return props


def fqdn_rule(host):
    return {**WS, "ruleName": "r", "properties": {"type": "FQDN", "category": "UserDefined", "destination": host}}


PRIVATE_STACK = [
    (network.PRIVATE_ENDPOINT, "pe", {"subnet": {"id": SUBNET}}),
    (common.WORKSPACE, "ws", workspace("AllowOnlyApprovedOutbound")),
    (common.ONLINE_ENDPOINT, "ep", {"properties": {"authMode": "AADToken", "publicNetworkAccess": "Disabled"}}),
    (common.REGISTRY, "cr", {"sku": {"name": "Premium"}, "publicNetworkAccess": "Disabled"}),
    (common.STORAGE_ACCOUNT, "st", {"publicNetworkAccess": "Disabled"}),
    (common.KEY_VAULT, "kv", {"properties": {"publicNetworkAccess": "Disabled"}}),
]


def test_the_pack_keeps_the_programs_zone_table():
    program = json.loads(open("azureml_endpoints/azure/private_dns_zones.json").read())
    assert json.loads(open("policies/guardrails/private_dns_zones.json").read()) == program
    assert sorted(network.STORAGE_SUFFIXES.values()) == sorted(storage_suffixes())
    assert "privatelink.api.azureml.ms" in network.ZONES_BY_CLOUD["public"]


def test_a_private_stack_passes():
    assert check_stack(network.private_network_access, PRIVATE_STACK, {"required": True}) == []


@pytest.mark.parametrize(
    "index, public",
    [
        (1, (common.WORKSPACE, "ws", workspace("AllowOnlyApprovedOutbound", access="Enabled"))),
        (2, (common.ONLINE_ENDPOINT, "ep", {"properties": {"authMode": "AADToken"}})),
        (3, (common.REGISTRY, "cr", {"sku": {"name": "Premium"}, "publicNetworkAccess": "Enabled"})),
        (4, (common.STORAGE_ACCOUNT, "st", {})),
        (5, (common.KEY_VAULT, "kv", {"properties": {"publicNetworkAccess": "Enabled"}})),
    ],
    ids=["workspace", "endpoint", "registry", "storage", "vault"],
)
def test_a_private_stack_refuses_each_public_resource(index, public):
    stack = [*PRIVATE_STACK[:index], public, *PRIVATE_STACK[index + 1 :]]
    ((name, message),) = check_stack(network.private_network_access, stack)
    assert name == public[1] and "declares a private network" in message and "set Disabled" in message


def test_a_public_stack_is_judged_only_where_required():
    public = [(common.WORKSPACE, "ws", workspace(access="Enabled")), (common.ONLINE_ENDPOINT, "ep", {"properties": {}})]
    assert check_stack(network.private_network_access, public) == []
    found = check_stack(network.private_network_access, public, {"required": True})
    assert [n for n, _ in found] == ["ws", "ep"] and "requires private networking" in found[0][1]
    unknown = [(common.WORKSPACE, "ws", workspace(access=UNKNOWN_STRING_VALUE))]
    assert check_stack(network.private_network_access, unknown, {"required": True}) == []


@pytest.mark.parametrize(
    "was, now, refused",
    [
        ("Disabled", "AllowInternetOutbound", False),
        ("AllowInternetOutbound", "AllowOnlyApprovedOutbound", False),
        ("AllowOnlyApprovedOutbound", "AllowOnlyApprovedOutbound", False),
        ("AllowOnlyApprovedOutbound", "AllowInternetOutbound", True),
        ("AllowInternetOutbound", None, True),  # no managed network declared: Disabled
        (None, "AllowInternetOutbound", False),  # a new workspace
    ],
)
def test_isolation_only_moves_forward(was, now, refused):
    config = {"workspaces": {"rg-ml/mlw": was} if was else {}}
    found = check(network.workspace_isolation_baseline, common.WORKSPACE, workspace(now), config=config)
    assert bool(found) is refused
    if refused:
        assert "only moves forward" in found[0] and f"keep {was}" in found[0]


def test_isolation_baseline_odd_values_are_named():
    found = check(
        network.workspace_isolation_baseline, common.WORKSPACE, workspace("Open"), config={"workspaces": {"rg-ml/mlw": "Disabled"}}
    )
    assert "'Open' is not one of" in found[0]
    assert (
        check(
            network.workspace_isolation_baseline,
            common.WORKSPACE,
            workspace(UNKNOWN_STRING_VALUE),
            config={"workspaces": {"rg-ml/mlw": "AllowOnlyApprovedOutbound"}},
        )
        == []
    )


@pytest.mark.parametrize("sku, refused", [("Basic", True), ("Standard", True), ("Premium", False)])
def test_registry_sku_must_honour_disabled_public_access(sku, refused):
    found = check(network.registry_sku_private_access, common.REGISTRY, {"sku": {"name": sku}, "publicNetworkAccess": "Disabled"})
    assert bool(found) is refused
    assert check(network.registry_sku_private_access, common.REGISTRY, {"sku": {"name": sku}, "publicNetworkAccess": "Enabled"}) == []


@pytest.mark.parametrize(
    "host, refused",
    [("stdata.blob.core.windows.net", True), ("x.queue.core.chinacloudapi.cn", True), ("pypi.org", False)],
)
def test_fqdn_rules_never_target_storage(host, refused):
    found = check(network.outbound_fqdn_not_storage, network.OUTBOUND_RULE, fqdn_rule(host))
    assert bool(found) is refused and (not refused or "private endpoint rule" in found[0])


REGISTRY_ID = f"{RG}/providers/Microsoft.MachineLearningServices/registries/shared-models"
STORAGE_ID = f"{RG}/providers/Microsoft.Storage/storageAccounts/stdata"


def private_endpoint_rule(target, group):
    destination = {"serviceResourceId": target, "subresourceTarget": group, "sparkEnabled": False}
    return {**WS, "ruleName": "r", "properties": {"type": "PrivateEndpoint", "category": "UserDefined", "destination": destination}}


@pytest.mark.parametrize(
    "target, group, words",
    [
        (REGISTRY_ID, "amlregistry", None),
        (STORAGE_ID, "blob", None),
        (STORAGE_ID, "queue_secondary", None),
        (f"{RG}/providers/Microsoft.Sql/servers/sql", "sqlServer", None),  # a type the program never targets: not judged
        (REGISTRY_ID, "amlworkspace", "reaches a Microsoft.MachineLearningServices/registries as amlregistry"),
        (STORAGE_ID, "amlregistry", "reaches a Microsoft.Storage/storageAccounts as blob"),
        ("shared-models", "amlregistry", "serviceResourceId is not a resource's ARM id"),
        (f"{RG}/providers/Microsoft.MachineLearningServices/registries", "amlregistry", "is not a resource's ARM id"),
        (UNKNOWN_STRING_VALUE, "amlregistry", None),  # a preview's id of an account still to be created
    ],
    ids=["registry", "storage", "secondary", "other-type", "registry-as-workspace", "storage-as-registry", "a-name", "no-name", "unknown"],
)
def test_private_endpoint_rules_target_a_sub_resource_of_their_target(target, group, words):
    found = check(network.outbound_private_endpoint_target, network.OUTBOUND_RULE, private_endpoint_rule(target, group))
    assert (found == []) if words is None else (len(found) == 1 and words in found[0]), found
    assert check(network.outbound_private_endpoint_target, network.OUTBOUND_RULE, fqdn_rule("pypi.org")) == []


@pytest.mark.parametrize("mode, refused", [("AllowOnlyApprovedOutbound", False), ("AllowInternetOutbound", True), (None, True)])
def test_fqdn_rules_only_in_approved_outbound(mode, refused):
    stack = [(common.WORKSPACE, "ws", workspace(mode)), (network.OUTBOUND_RULE, "pypi", fqdn_rule("pypi.org"))]
    found = check_stack(network.outbound_fqdn_approved_only, stack)
    assert [n for n, _ in found] == (["pypi"] if refused else [])


@pytest.mark.parametrize(
    "subnet, expected",
    [
        (SUBNET, None),
        (None, "has no subnet.id"),
        (f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet", "is not a subnet's ARM id"),
        (UNKNOWN_STRING_VALUE, None),
    ],
)
def test_private_endpoints_sit_in_a_subnet(subnet, expected):
    props = {"subnet": {"id": subnet}} if subnet else {}
    found = check(network.private_endpoint_subnet, network.PRIVATE_ENDPOINT, props)
    assert (found == []) if expected is None else (expected in found[0])


def test_private_dns_zones_of_one_cloud():
    zone_id = f"{RG}/providers/Microsoft.Network/privateDnsZones/"
    group = (
        network.PRIVATE_DNS_ZONE_GROUP,
        "pe-zones",
        {"privateDnsZoneConfigs": [{"privateDnsZoneId": zone_id + "privatelink.api.azureml.ms"}]},
    )
    public = [(network.PRIVATE_DNS_ZONE, "z", {"privateZoneName": "privatelink.notebooks.azure.net"}), group]
    assert check_stack(network.private_dns_zones_one_cloud, public) == []
    mixed = [*public, (network.PRIVATE_DNS_ZONE, "z-cn", {"privateZoneName": "privatelink.api.ml.azure.cn"})]
    found = check_stack(network.private_dns_zones_one_cloud, mixed)
    assert [n for n, _ in found] == ["z", "pe-zones", "z-cn"] and "2 clouds (china, public)" in found[0][1]
