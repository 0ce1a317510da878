"""Batch scoring under the ARM-like mocks: cluster identity and roles, deployment wiring, default deployment."""

import importlib.util

from azureml_endpoints.azure.roles import ROLE_DEFINITIONS
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.offline.arm_mocks import FAKE_STORAGE_SUFFIX, SUBSCRIPTION_ID
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir

RA = "azure-native:authorization:RoleAssignment"
COMPUTE = "azure-native:machinelearningservices:Compute"
BATCH_DEPLOYMENT = "azure-native:machinelearningservices:BatchDeployment"
UAI = "azure-native:managedidentity:UserAssignedIdentity"
BATCH = "azureml-endpoints:batchEndpoints"


def definition(role: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_DEFINITIONS[role]}"


def cluster_grants(evaluation) -> set[tuple[str, str, str]]:
    return {
        (r.inputs["roleDefinitionId"], r.inputs["scope"], r.inputs["principalId"])
        for r in evaluation.of_type(RA)
        if r.name.startswith("batch-dev-cluster-roles")
    }


def reference_set(evaluation, principal: str) -> set[tuple[str, str, str]]:
    (ws,) = evaluation.mocks.workspaces.values()
    return {
        (definition("Storage Blob Data Reader"), evaluation.named("data-account").id, principal),
        (definition("AcrPull"), ws.registry_id, principal),
        (definition("Storage Blob Data Reader"), ws.storage_account_id, principal),
    }


def with_cluster_identity(dev_config, identity: dict):
    dev_config[BATCH][0]["compute"]["identity"] = identity
    return evaluate("dev", config=dev_config)


def test_compute_cluster(dev):
    compute = dev.named("batch-dev-cluster-compute")
    uai = dev.named("batch-dev-cluster-identity-id-batch-cluster-dev")
    assert compute.inputs["computeName"] == "batch-cluster"
    assert compute.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [uai.id]}
    aml = compute.inputs["properties"]
    assert aml["computeType"] == "AmlCompute"
    assert aml["disableLocalAuth"] is True  # as azure-ai-ml sends it (tests/test_request_bodies.py)
    assert aml["properties"] == {
        "osType": "Linux",
        "vmSize": "STANDARD_D2_V2",
        "vmPriority": "Dedicated",
        "scaleSettings": {"minNodeCount": 0.0, "maxNodeCount": 5.0, "nodeIdleTimeBeforeScaleDown": "PT120S"},
        "remoteLoginPortPublicAccess": "NotSpecified",
        "enableNodePublicIp": True,
    }
    # Azure cannot change these in place: a change is a replacement, never a silent no-op.
    assert set(compute.replace_on_changes) == {"identity", "properties.properties.vmSize", "properties.properties.vmPriority"}
    assert compute.delete_before_replace


def test_user_assigned_cluster_identity_gets_the_reference_roles(dev):
    principal = dev.named("batch-dev-cluster-identity-id-batch-cluster-dev").outputs["principalId"]
    assert cluster_grants(dev) == reference_set(dev, principal)


def test_system_assigned_cluster_identity_gets_the_reference_roles(dev_config):
    evaluation = with_cluster_identity(dev_config, {"type": "SystemAssigned"})
    compute = evaluation.named("batch-dev-cluster-compute")
    assert compute.inputs["identity"] == {"type": "SystemAssigned"}
    assert not [r for r in evaluation.of_type(UAI) if r.name.startswith("batch-dev")]
    principal = compute.outputs["identity"]["principalId"]
    assert cluster_grants(evaluation) == reference_set(evaluation, principal)
    for assignment in evaluation.of_type(RA):
        if assignment.name.startswith("batch-dev-cluster-roles"):
            assert compute.urn in assignment.dependencies


def test_several_user_assigned_identities_each_get_the_roles(dev_config):
    evaluation = with_cluster_identity(dev_config, {"type": "UserAssigned", "userAssignedIdentityNames": ["id-a-dev", "id-b-dev"]})
    identities = [evaluation.named(f"batch-dev-cluster-identity-{n}") for n in ("id-a-dev", "id-b-dev")]
    compute = evaluation.named("batch-dev-cluster-compute")
    assert compute.inputs["identity"]["userAssignedIdentities"] == [i.id for i in identities]
    expected = set().union(*(reference_set(evaluation, i.outputs["principalId"]) for i in identities))
    assert cluster_grants(evaluation) == expected


def test_batch_endpoint(dev):
    endpoint = dev.named("batch-dev-endpoint")
    assert endpoint.inputs["identity"] == {"type": "SystemAssigned"}
    assert endpoint.inputs["properties"]["authMode"] == "AADToken"
    assert "defaults" not in endpoint.inputs["properties"]
    assert endpoint.replace_on_changes == ["identity"] and endpoint.delete_before_replace
    assert endpoint.ignore_changes == ["properties.defaults"]
    assert not endpoint.protect
    assert evaluate("dev", config=_prod_like(dev)).named("batch-dev-endpoint").protect


def _prod_like(dev):
    from azureml_endpoints.pulumi_io.stack_files import stack_config

    config = stack_config("dev")
    config["azureml-endpoints:environment"] = "prod"
    return config


def test_batch_deployment_references_the_registered_resources(dev):
    deployment = dev.named("batch-dev-blue")
    p = deployment.inputs["properties"]
    assert p["model"] == {"assetId": dev.named("assets-model-sklearn-regression-1").id, "referenceType": "Id"}
    assert p["codeConfiguration"] == {"codeId": dev.named("assets-code-ml-batchscoring").id, "scoringScript": "batch_driver.py"}
    (environment,) = [
        r for r in dev.of_type("azure-native:machinelearningservices:EnvironmentVersion") if r.inputs["name"] == "sklearn-batch"
    ]
    assert p["environmentId"] == environment.id
    assert p["compute"] == dev.named("batch-dev-cluster-compute").id
    assert p["resources"] == {"instanceCount": 1.0}
    assert (p["maxConcurrencyPerInstance"], p["miniBatchSize"], p["errorThreshold"]) == (4.0, 5.0, 10.0)
    assert p["retrySettings"] == {"maxRetries": 3.0, "timeout": "PT30S"}
    assert (p["loggingLevel"], p["outputAction"], p["outputFileName"]) == ("Info", "AppendRow", "predictions.csv")
    assert deployment.inputs["endpointName"] == "batch-dev"


def test_batch_deployment_waits_for_cluster_roles_and_input_data(dev):
    deployment = dev.named("batch-dev-blue")
    wait = dev.named("batch-dev-cluster-roles-id-batch-cluster-dev-propagation")
    assert wait.urn in deployment.dependencies
    for part in ("000", "001", "002"):
        assert dev.named(f"data-batch-input-part-{part}.csv").urn in deployment.dependencies
    assert deployment.custom_timeouts["create"] == "40m"


def test_default_deployment_follows_the_deployment(dev):
    default = dev.named("batch-dev-default")
    assert {dev.named("batch-dev-endpoint").urn, dev.named("batch-dev-blue").urn} <= set(default.dependencies)
    (resource,) = default.inputs["properties"]["template"]["resources"]
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/batchEndpoints"
    assert resource["name"] == "mlw-endpoints-dev/batch-dev"
    assert resource["identity"] == {"type": "SystemAssigned"}
    assert resource["properties"]["defaults"] == {"deploymentName": "blue"}
    assert resource["properties"]["authMode"] == "AADToken"
    assert resource["tags"] == dev.named("batch-dev-endpoint").inputs["tags"]


def test_batch_shares_the_model_but_has_its_own_environment(dev):
    """One model version for both sides; batch runs in its own environment (Azure ML's batch runtime packages)."""
    assert len(dev.of_type("azure-native:machinelearningservices:ModelVersion")) == 1
    environments = {r.inputs["name"] for r in dev.of_type("azure-native:machinelearningservices:EnvironmentVersion")}
    assert environments == {"sklearn-scoring", "sklearn-batch"}
    online = dev.named("mi-uai-dev-blue").inputs["properties"]
    batch = dev.named("batch-dev-blue").inputs["properties"]
    assert online["model"] == batch["model"]["assetId"] and online["environmentId"] != batch["environmentId"]
    assert online["codeConfiguration"]["codeId"] != batch["codeConfiguration"]["codeId"]


def test_input_data_and_identity_based_datastore(dev):
    datastore = dev.named("data-datastore")
    p = datastore.inputs["properties"]
    assert datastore.inputs["name"] == "endpointdata"
    assert (p["datastoreType"], p["accountName"], p["containerName"]) == ("AzureBlob", "stmlepdevdata", "data")
    assert p["credentials"] == {"credentialsType": "None"}
    assert p["endpoint"] == FAKE_STORAGE_SUFFIX  # taken from the account's blob endpoint, never hard-coded
    blobs = {r.inputs["blobName"] for r in dev.of_type("azure-native:storage:Blob") if r.name.startswith("data-")}
    assert blobs == {"hello.txt", "batch-input/part-000.csv", "batch-input/part-001.csv", "batch-input/part-002.csv"}
    output = dev.outputs["batchEndpoints"]["batch-dev"]
    assert output["input"] == "azureml://datastores/endpointdata/paths/batch-input/"
    assert output["defaultDeployment"] == "blue"
    assert output["scoringUri"] == dev.named("batch-dev-endpoint").outputs["properties"]["scoringUri"]


def test_batch_only_stack(dev_config):
    dev_config.pop("azureml-endpoints:onlineEndpoints")
    evaluation = evaluate("dev", config=dev_config)
    assert not evaluation.of_type("azure-native:machinelearningservices:OnlineEndpoint")
    codes = {r.inputs["name"] for r in evaluation.of_type("azure-native:machinelearningservices:CodeVersion")}
    assert codes == {"batchscoring"}
    assert evaluation.outputs["onlineEndpoints"] == {}


def test_bad_batch_config_registers_nothing(dev_config):
    dev_config[BATCH][0]["compute"]["minNodes"] = 9
    evaluation = evaluate("dev", config=dev_config, raise_errors=False)
    assert isinstance(evaluation.error, SettingsError)
    assert "azureml-endpoints:batchEndpoints[0].compute.maxNodes: must be at least minNodes (9)" in str(evaluation.error)
    assert evaluation.registrations == []


# --- the batch sample input (the driver runs in its own environment: tests/test_batch_runtime.py) ----------


def test_shipped_batch_data_is_what_the_script_writes(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("make_batch_data", project_dir() / "ml/make_batch_data.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    monkeypatch.setattr(maker, "OUT", tmp_path)
    for written in maker.write():
        assert written.read_bytes() == (project_dir() / "ml/batch-data" / written.name).read_bytes()
