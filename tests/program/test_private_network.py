"""The private stack under the ARM-like mocks (docs/private-networking.md): the wiring Azure needs, in order."""

import pytest

from azureml_endpoints.config.network import IsolationMode
from azureml_endpoints.offline.arm_mocks import ArmError, ArmMocks, FakeWorkspace, managed_network_rule
from azureml_endpoints.offline.estimates import dependency_graph, mermaid, time_estimate
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.pulumi_io.stack_files import stack_config
from tests.support.private_stacks import REGISTRY_ID, REGISTRY_MODEL, with_registry_model

ML = "azure-native:machinelearningservices:"
NS = "azureml-endpoints:"


@pytest.fixture(scope="module")
def private():
    return evaluate("sandbox-private")


def one(evaluation, type_, **inputs):
    (found,) = [r for r in evaluation.of_type(type_) if all(r.inputs.get(k) == v for k, v in inputs.items())]
    return found


def test_the_workspace_has_a_managed_network_provisioned_with_it(private):
    ws = one(private, ML + "Workspace")
    assert ws.inputs["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert "firewallSku" not in ws.inputs["managedNetwork"]  # no FQDN rule, no Azure Firewall
    assert ws.inputs["provisionNetworkNow"] is True
    assert ws.inputs["imageBuildCompute"] == "batch-cluster"
    assert ws.inputs["publicNetworkAccess"] == "Disabled"
    registry = one(private, "azure-native:containerregistry:Registry")
    assert registry.inputs["sku"] == {"name": "Premium"} and registry.inputs["publicNetworkAccess"] == "Disabled"
    assert one(private, "azure-native:keyvault:Vault").inputs["properties"]["publicNetworkAccess"] == "Disabled"


def test_outbound_rules_target_the_real_ids_of_the_stacks_storage(private):
    data = one(private, "azure-native:storage:StorageAccount", accountName="stmlepsbxpdata")
    default = one(private, "azure-native:storage:StorageAccount", accountName="stmlepsbxpws")
    rules = {r.inputs["ruleName"]: r for r in private.of_type(ML + "ManagedNetworkSettingsRule")}
    targets = {
        n: (r.inputs["properties"]["destination"].get("serviceResourceId"), r.inputs["properties"]["destination"].get("subresourceTarget"))
        for n, r in rules.items()
    }
    assert targets["data-storage-blob"] == (data.id, "blob")
    assert targets["default-storage-queue"] == (default.id, "queue") and targets["default-storage-table"] == (default.id, "table")
    assert rules["azure-monitor"].inputs["properties"]["destination"] == {
        "serviceTag": "AzureMonitor",
        "protocol": "TCP",
        "portRanges": "443",
    }
    assert data.urn in rules["data-storage-blob"].property_dependencies["properties"]


def test_deployments_wait_for_the_provisioned_network_and_its_rules(private):
    ws = one(private, ML + "Workspace")
    rules = {r.urn for r in private.of_type(ML + "ManagedNetworkSettingsRule")}
    pes = {r.urn for r in private.of_type("azure-native:network:PrivateEndpoint")}
    by_urn = private.by_urn()

    def ancestors(urn, seen=None):
        seen = set() if seen is None else seen
        r = by_urn[urn]
        for d in (
            set(r.dependencies) | {u for us in r.property_dependencies.values() for u in us} | ({r.parent} if r.parent in by_urn else set())
        ):
            if d not in seen:
                seen.add(d)
                ancestors(d, seen)
        return seen

    for kind in ("OnlineDeployment", "BatchDeployment"):
        for deployment in private.of_type(ML + kind):
            assert {ws.urn} | rules | pes <= ancestors(deployment.urn), deployment.name


def test_endpoints_send_public_network_access_disabled(private):
    for endpoint in private.of_type(ML + "OnlineEndpoint"):
        assert endpoint.inputs["properties"]["publicNetworkAccess"] == "Disabled"


def test_one_workspace_private_endpoint_carries_both_zones(private):
    pe = one(private, "azure-native:network:PrivateEndpoint", privateEndpointName="pe-mlw-endpoints-sbx-private-amlworkspace")
    (connection,) = pe.inputs["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["amlworkspace"]
    assert connection["privateLinkServiceId"] == one(private, ML + "Workspace").id
    (group,) = [
        g
        for g in private.of_type("azure-native:network:PrivateDnsZoneGroup")
        if g.inputs["privateEndpointName"] == pe.inputs["privateEndpointName"]
    ]
    zones = {
        one(private, "azure-native:privatedns:PrivateZone", privateZoneName=n).id
        for n in ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net")
    }
    assert {c["privateDnsZoneId"] for c in group.inputs["privateDnsZoneConfigs"]} == zones
    for link in private.of_type("azure-native:privatedns:VirtualNetworkLink"):
        assert link.inputs["virtualNetwork"]["id"].endswith("/virtualNetworks/vnet-sbx") and link.inputs["registrationEnabled"] is False


def test_storage_refuses_shared_keys_and_every_upload_goes_through_entra(private):
    for account in private.of_type("azure-native:storage:StorageAccount"):
        assert account.inputs["allowSharedKeyAccess"] is False and account.inputs["publicNetworkAccess"] == "Disabled"
    assert private.of_type("azure-native:storage:Blob") == []
    uploads = [r for r in private.of_type("pulumi-python:dynamic:Resource") if "sha256" in r.inputs]
    names = {u.inputs["blobName"] for u in uploads}
    assert "hello.txt" in names and any(n.startswith("batch-input/") for n in names)
    assert any(n.startswith("pulumi-assets/model/") for n in names)
    assert all(len(u.inputs["sha256"]) == 64 for u in uploads)


def test_dns_left_to_azure_policy_adds_no_zone_group():
    config = stack_config("sandbox-private")
    config[NS + "network"] = {**config[NS + "network"], "dns": {"mode": "AzurePolicy"}}
    evaluation = evaluate("sandbox-private", config=config)
    assert evaluation.of_type("azure-native:network:PrivateDnsZoneGroup") == []
    assert evaluation.of_type("azure-native:privatedns:PrivateZone") == []
    assert len(evaluation.of_type("azure-native:network:PrivateEndpoint")) == 4


def test_a_public_stack_is_unchanged(dev):
    assert dev.of_type(ML + "ManagedNetworkSettingsRule") == [] and dev.of_type("azure-native:network:PrivateEndpoint") == []
    assert all(a.inputs["allowSharedKeyAccess"] is True for a in dev.of_type("azure-native:storage:StorageAccount"))


def test_the_estimate_adds_the_provisioning_wait_and_the_graph_shows_the_network(private, dev):
    assert time_estimate(dependency_graph(private.registrations)).critical_seconds[1] >= 30 * 60
    assert time_estimate(dependency_graph(dev.registrations)).critical_seconds[1] < 30 * 60
    graph = mermaid(dependency_graph(private.registrations))
    assert "PrivateEndpoint" in graph and "PrivateZone" in graph and "ManagedNetworkSettingsRule" in graph


def test_a_looked_up_workspace_must_already_be_isolated():
    config = stack_config("sandbox-private")
    config[NS + "workspace"] = {"name": "mlw-endpoints-dev", "resourceGroup": "rg-ml-endpoints-dev"}
    config[NS + "network"] = {k: v for k, v in config[NS + "network"].items() if k != "imageBuildCompute"}
    evaluation = evaluate("sandbox-private", config=config, raise_errors=False)
    assert "network.isolationMode: workspace 'mlw-endpoints-dev' has managed network Disabled" in str(evaluation.error)


def test_the_mocks_refuse_an_fqdn_rule_without_approved_outbound():
    mocks = ArmMocks([FakeWorkspace("w", "rg", isolation_mode=IsolationMode.ALLOW_INTERNET_OUTBOUND.value)])
    with pytest.raises(ArmError, match="FQDN outbound rules need"):
        managed_network_rule(
            mocks,
            {"resourceGroupName": "rg", "workspaceName": "w", "ruleName": "r", "properties": {"type": "FQDN", "destination": "pypi.org"}},
        )


def test_batch_nodes_take_no_public_ip_in_the_managed_network(private, dev):
    # "Managed virtual network isolation": compute in the managed network needs no public IP.
    assert private.named("batch-sbx-private-cluster-compute").inputs["properties"]["properties"]["enableNodePublicIp"] is False
    assert dev.named("batch-dev-cluster-compute").inputs["properties"]["properties"]["enableNodePublicIp"] is True


@pytest.fixture(scope="module")
def private_with_registry():
    return evaluate("sandbox-private", config=with_registry_model(stack_config("sandbox-private")))


def test_a_registry_the_deployments_use_gets_a_private_endpoint_rule(private_with_registry, private):
    rule = one(private_with_registry, ML + "ManagedNetworkSettingsRule", ruleName="registry-shared-models")
    assert rule.name == "managed-network-registry-shared-models"
    assert rule.inputs["properties"] == {
        "type": "PrivateEndpoint",
        "category": "UserDefined",
        "destination": {"serviceResourceId": REGISTRY_ID, "subresourceTarget": "amlregistry", "sparkEnabled": False},
    }
    # Adding the registry renames no other rule, and the deployment waits for its rule as for the others.
    names = {r.name for r in private.of_type(ML + "ManagedNetworkSettingsRule")}
    assert {r.name for r in private_with_registry.of_type(ML + "ManagedNetworkSettingsRule")} == names | {rule.name}
    (deployment,) = private_with_registry.of_type(ML + "OnlineDeployment")
    assert deployment.inputs["properties"]["model"] == REGISTRY_MODEL
    assert rule.urn in deployment.dependencies
    graph = mermaid(dependency_graph(private_with_registry.registrations))
    assert "managed-network-registry-shared-models" in graph


def test_an_unlisted_registry_is_refused_before_anything_registers():
    config = with_registry_model(stack_config("sandbox-private"))
    config[NS + "network"] = {k: v for k, v in config[NS + "network"].items() if k != "registries"}
    evaluation = evaluate("sandbox-private", config=config, raise_errors=False)
    assert evaluation.registrations == []
    assert "onlineEndpoints[0].deployments[0].model: registry 'shared-models' is not in network.registries" in str(evaluation.error)


def test_the_mocks_refuse_a_registry_rule_to_no_registry_or_the_wrong_sub_resource():
    mocks = ArmMocks([FakeWorkspace("w", "rg", isolation_mode=IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND.value)], [REGISTRY_ID])

    def rule(target, group):
        destination = {"serviceResourceId": target, "subresourceTarget": group}
        return {
            "resourceGroupName": "rg",
            "workspaceName": "w",
            "ruleName": "r",
            "properties": {"type": "PrivateEndpoint", "destination": destination},
        }

    managed_network_rule(mocks, rule(REGISTRY_ID, "amlregistry"))
    with pytest.raises(ArmError, match="'blob' is not a sub-resource of microsoft.machinelearningservices/registries"):
        managed_network_rule(mocks, rule(REGISTRY_ID, "blob"))
    with pytest.raises(ArmError, match="ResourceNotFound: private endpoint rule target"):
        managed_network_rule(
            ArmMocks([FakeWorkspace("w", "rg", isolation_mode="AllowOnlyApprovedOutbound")]), rule(REGISTRY_ID, "amlregistry")
        )
