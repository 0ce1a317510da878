"""The program under the ARM-like mocks: wiring, options, outputs, for both identity modes."""

import copy
import uuid

import pytest

from azureml_endpoints.azure.endpoint_template import ML_API_VERSION
from azureml_endpoints.azure.images import ONLINE_IMAGE
from azureml_endpoints.azure.roles import ROLE_DEFINITIONS, role_assignment_name
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID, FakeWorkspace, template_deployment
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import is_secret, shipped_stacks, stack_config
from components.assets import code_version

NS = "azureml-endpoints"
RA = "azure-native:authorization:RoleAssignment"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
UAI = "azure-native:managedidentity:UserAssignedIdentity"
WAIT = "pulumi-python:dynamic:Resource"
TEMPLATE = "azure-native:resources:Deployment"
TAGGABLE = {
    UAI,
    ENDPOINT,
    DEPLOYMENT,
    "azure-native:storage:StorageAccount",
    "azure-native:machinelearningservices:BatchEndpoint",
    "azure-native:machinelearningservices:BatchDeployment",
    "azure-native:machinelearningservices:Compute",
}


def definition(role: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_DEFINITIONS[role]}"


def workspace_of(evaluation) -> FakeWorkspace:
    (ws,) = evaluation.mocks.workspaces.values()
    return ws


def grants(evaluation, owner: str) -> set[tuple[str, str, str]]:
    """(role, scope, principal) of the role assignments made for one endpoint or cluster."""
    return {
        (r.inputs["roleDefinitionId"], r.inputs["scope"], r.inputs["principalId"])
        for r in evaluation.of_type(RA)
        if r.name.startswith(owner + "-")
    }


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_shipped_stack_evaluates(stack):
    evaluation = evaluate(stack)
    assert evaluation.of_type(ENDPOINT) and evaluation.of_type(DEPLOYMENT)
    assert all(r.id for r in evaluation.registrations if r.custom)


def test_user_assigned_roles_are_exactly_the_reference_set(dev):
    ws = workspace_of(dev)
    uai = dev.named("mi-uai-dev-identity")
    data = dev.named("data-account")
    principal = uai.outputs["principalId"]
    assert grants(dev, "mi-uai-dev") == {
        (definition("Storage Blob Data Reader"), data.id, principal),
        (definition("AcrPull"), ws.registry_id, principal),
        (definition("Storage Blob Data Reader"), ws.storage_account_id, principal),
    }
    for assignment in dev.of_type(RA):
        assert assignment.inputs["principalType"] == "ServicePrincipal"
        expected = role_assignment_name(assignment.inputs["scope"], assignment.inputs["principalId"], assignment.inputs["roleDefinitionId"])
        assert assignment.inputs["roleAssignmentName"] == expected
        assert uuid.UUID(expected).version == 5


def test_user_assigned_roles_do_not_wait_for_the_endpoint(dev):
    endpoint_urn = dev.named("mi-uai-dev-endpoint").urn
    for assignment in dev.of_type(RA):
        assert endpoint_urn not in assignment.dependencies


def test_system_assigned_grants_the_endpoint_principal_on_data_only(sai):
    endpoint = sai.named("mi-sai-dev-endpoint")
    assert endpoint.inputs["identity"] == {"type": "SystemAssigned"}
    assert not sai.of_type(UAI)
    principal = endpoint.outputs["identity"]["principalId"]
    assert grants(sai, "mi-sai-dev") == {(definition("Storage Blob Data Reader"), sai.named("data-account").id, principal)}
    (assignment,) = sai.of_type(RA)
    assert endpoint.urn in assignment.dependencies  # the principal only exists once the endpoint does


def test_endpoint_identity_is_the_created_uai(dev):
    uai = dev.named("mi-uai-dev-identity")
    endpoint = dev.named("mi-uai-dev-endpoint")
    assert endpoint.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [uai.id]}
    assert endpoint.outputs["identity"]["userAssignedIdentities"][uai.id]["clientId"] == uai.outputs["clientId"]
    assert endpoint.inputs["properties"]["authMode"] == "Key"


def test_identity_change_is_a_replacement_never_an_update(dev):
    endpoint = dev.named("mi-uai-dev-endpoint")
    assert endpoint.replace_on_changes == ["identity"]
    assert endpoint.delete_before_replace
    # No ignoreChanges on traffic: the engine would then send the value it sent last, which is none.
    assert endpoint.ignore_changes == []
    assert "traffic" not in endpoint.inputs["properties"]  # created before its deployments exist


def test_environment_variables(dev, sai):
    uai = dev.named("mi-uai-dev-identity")
    data = dev.named("data-account")
    env = dev.named("mi-uai-dev-blue").inputs["properties"]["environmentVariables"]
    assert env == {
        "STORAGE_ACCOUNT_NAME": "stmlepdevdata",
        "STORAGE_CONTAINER_NAME": "data",
        "FILE_NAME": "hello.txt",
        "STORAGE_BLOB_ENDPOINT": data.outputs["primaryEndpoints"]["blob"],
        "UAI_CLIENT_ID": uai.outputs["clientId"],
    }
    sai_env = sai.named("mi-sai-dev-blue").inputs["properties"]["environmentVariables"]
    assert "UAI_CLIENT_ID" not in sai_env and sai_env["STORAGE_ACCOUNT_NAME"] == "stmlepsaidata"


@pytest.mark.parametrize("fixture, endpoint", [("dev", "mi-uai-dev"), ("sai", "mi-sai-dev")])
def test_deployments_start_after_roles_have_propagated_and_data_exists(fixture, endpoint, request):
    evaluation = request.getfixturevalue(fixture)
    wait = evaluation.named(f"{endpoint}-roles-propagation")
    assignments = [r for r in evaluation.of_type(RA) if r.name.startswith(f"{endpoint}-roles-")]
    assert len(assignments) in (1, 3) and {r.urn for r in assignments} <= set(wait.dependencies)
    assert sorted(wait.inputs["follows"]) == sorted(r.id for r in assignments)
    blob = evaluation.named("data-hello.txt")
    for deployment in evaluation.of_type(DEPLOYMENT):
        assert wait.urn in deployment.dependencies
        assert blob.urn in deployment.dependencies
        assert deployment.custom_timeouts == {"create": "40m", "update": "40m", "delete": "20m"}


def test_deployment_references_registered_assets(dev):
    properties = dev.named("mi-uai-dev-blue").inputs["properties"]
    code = dev.named("assets-code-ml-onlinescoring")
    model = dev.named("assets-model-sklearn-regression-1")
    (environment,) = [
        r for r in dev.of_type("azure-native:machinelearningservices:EnvironmentVersion") if r.inputs["name"] == "sklearn-scoring"
    ]
    assert properties["model"] == model.id
    assert properties["codeConfiguration"] == {"codeId": code.id, "scoringScript": "score_managedidentity.py"}
    assert properties["environmentId"] == environment.id
    assert properties["instanceType"] == "Standard_DS3_v2"
    assert dev.named("mi-uai-dev-blue").inputs["sku"] == {"name": "Default", "capacity": 1.0}
    assert code.inputs["version"] == code_version(project_dir() / "ml" / "onlinescoring")
    assert model.inputs["version"] == "1"  # Azure ML: a workspace model version is a positive integer
    assert environment.inputs["name"] == "sklearn-scoring"
    assert environment.inputs["properties"]["image"] == ONLINE_IMAGE
    for asset in (code, model, environment):
        assert asset.retain_on_delete


def test_assets_live_in_the_workspace_default_datastore(dev):
    ws = workspace_of(dev)
    code = dev.named("assets-code-ml-onlinescoring")
    version = code.inputs["version"]
    code_uri = code.inputs["properties"]["codeUri"]
    blobs = [r for r in dev.of_type("azure-native:storage:Blob") if r.name.startswith("assets-code-ml-onlinescoring-")]
    assert {b.inputs["blobName"].rsplit("/", 1)[1] for b in blobs} == {"sample_model.py", "score.py", "score_managedidentity.py"}
    for blob in blobs:
        assert blob.inputs["accountName"] == ws.storage_account_name
        assert blob.inputs["blobName"].startswith(f"pulumi-assets/code/onlinescoring/{version}/")
        assert code_uri.endswith(f"/azureml-blobstore-{ws.workspace_guid}/pulumi-assets/code/onlinescoring/{version}")
        assert blob.urn in code.dependencies
    model_uri = dev.named("assets-model-sklearn-regression-1").inputs["properties"]["modelUri"]
    assert model_uri.startswith(
        f"azureml://subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg-ml-endpoints-dev/workspaces/mlw-endpoints-dev/datastores/workspaceblobstore/paths/"
    )
    assert model_uri.endswith("/model")


def test_data_storage_is_locked_down(dev):
    account = dev.named("data-account").inputs
    assert account["sku"] == {"name": "Standard_LRS"}
    assert account["location"] == workspace_of(dev).location
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["allowBlobPublicAccess"] is False
    assert dev.named("data-container").inputs["publicAccess"] == "None"


def test_traffic_is_applied_after_deployments_by_a_template(dev):
    template_deployment = dev.named("mi-uai-dev-traffic")
    endpoint = dev.named("mi-uai-dev-endpoint")
    assert {endpoint.urn, dev.named("mi-uai-dev-blue").urn} <= set(template_deployment.dependencies)
    properties = template_deployment.inputs["properties"]
    assert properties["mode"] == "Incremental"
    (resource,) = properties["template"]["resources"]
    assert resource["type"] == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    assert resource["apiVersion"] == ML_API_VERSION
    assert resource["name"] == "mlw-endpoints-dev/mi-uai-dev"
    assert resource["properties"]["traffic"] == {"blue": 100}
    # An explicit empty mirror, as azure-ai-ml sends it: leaving the key out is not how a mirror is cleared.
    assert resource["properties"]["mirrorTraffic"] == {}
    # The template re-sends the endpoint exactly as the endpoint resource declares it.
    uai_id = dev.named("mi-uai-dev-identity").id
    assert resource["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {uai_id: {}}}
    assert resource["properties"]["authMode"] == endpoint.inputs["properties"]["authMode"]
    assert resource["tags"] == endpoint.inputs["tags"]
    assert resource["location"] == endpoint.inputs["location"]


def test_blue_green_and_mirror_traffic():
    prod = evaluate("prod")
    (resource,) = prod.named("mi-uai-prod-traffic").inputs["properties"]["template"]["resources"]
    assert resource["properties"]["traffic"] == {"blue": 100, "green": 0}
    assert resource["properties"]["mirrorTraffic"] == {"green": 10}
    deps = set(prod.named("mi-uai-prod-traffic").dependencies)
    assert {prod.named("mi-uai-prod-blue").urn, prod.named("mi-uai-prod-green").urn} <= deps
    blue = prod.named("mi-uai-prod-blue").inputs["properties"]
    assert blue["requestSettings"] == {"requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 4.0, "maxQueueWait": "PT1S"}
    assert blue["livenessProbe"]["failureThreshold"] == 30.0
    assert blue["readinessProbe"]["initialDelay"] == "PT10S"


PROD_ENDPOINT = "mi-uai-prod"


def _prod_with(change) -> dict:
    config = stack_config("prod")
    change(config)
    return config


def _endpoint_puts(azure, since: int) -> list[dict]:
    """The split each PUT of the prod endpoint carried (the resource's own and the template's), in order."""
    suffix = f"/onlineEndpoints/{PROD_ENDPOINT}"
    return [
        {k: int(v) for k, v in body["properties"]["traffic"].items()} if "traffic" in body["properties"] else None
        for rid, body in azure.puts[since:]
        if rid.endswith(suffix)
    ]


def _rollout_step(azure, evaluation, traffic: dict[str, int]) -> None:
    """What `azureml-endpoints rollout` deploys for one step: the program's template with the step's split."""
    template = evaluation.named(f"{PROD_ENDPOINT}-traffic").inputs
    document = copy.deepcopy(template["properties"]["template"])
    document["resources"][0]["properties"].update(traffic=traffic, mirrorTraffic={})
    template_deployment(azure, {**template, "properties": {"mode": "Incremental", "template": document}})


def test_no_update_of_the_endpoint_leaves_its_deployments_at_zero_traffic():
    """Successive `up`s against one fake Azure, which answers as ARM does: an endpoint PUT without traffic sets
    every deployment to 0 % (microsoft/genaiops-promptflow-template#182), and azure-native's update is such a full
    PUT (pulumi-azure-native provider/pkg/gen/schema.go). Every endpoint PUT after the first carries a whole split."""
    first = evaluate("prod")
    azure, start = first.mocks, len(first.mocks.puts)
    # 1. A tag change: the endpoint is re-sent.
    tagged = _prod_with(lambda c: c[f"{NS}:tags"].update(team="scoring"))
    evaluate("prod", config=tagged, azure=azure)
    # 2. A deployment change: green's environment changes, the endpoint is re-sent too (every PUT is played).
    changed = copy.deepcopy(tagged)
    changed[f"{NS}:onlineEndpoints"][0]["deployments"][1]["environmentVariables"] = {"LOG_LEVEL": "debug"}
    second = evaluate("prod", config=changed, azure=azure)
    # 3. A rollout step, then an `up` before its split is committed: it puts the declared split back.
    _rollout_step(azure, second, {"blue": 90, "green": 10})
    evaluate("prod", config=changed, azure=azure)

    declared = {"blue": 100, "green": 0}
    assert _endpoint_puts(azure, start) == [
        declared,
        declared,
        declared,
        declared,
        {"blue": 90, "green": 10},
        {"blue": 90, "green": 10},
        declared,
    ]
    endpoint_id = first.named(f"{PROD_ENDPOINT}-endpoint").id
    assert azure.by_id[endpoint_id.lower()]["properties"]["traffic"] == declared
    assert azure.by_id[endpoint_id.lower()]["properties"]["mirrorTraffic"] == {"green": 10}


def test_a_rollout_commit_moves_traffic_only_after_the_deployments():
    """The commit of a finished rollout: the endpoint PUT re-sends what Azure has, the template sets the new split."""
    first = evaluate("prod")
    azure, start = first.mocks, len(first.mocks.puts)
    _rollout_step(azure, first, {"blue": 0, "green": 100})

    def committed(config):
        config[f"{NS}:onlineEndpoints"][0].update(traffic={"blue": 0, "green": 100}, mirrorTraffic={})

    evaluate("prod", config=_prod_with(committed), azure=azure)
    moved = {"blue": 0, "green": 100}
    assert _endpoint_puts(azure, start) == [moved, moved, moved]
    assert azure.by_id[first.named(f"{PROD_ENDPOINT}-endpoint").id.lower()]["properties"]["mirrorTraffic"] == {}


def test_ml_api_version_matches_the_pinned_provider():
    import pulumi_azure_native.machinelearningservices.online_endpoint as module

    source = open(module.__file__).read()
    assert f"Uses Azure REST API version {ML_API_VERSION}." in source


def test_protection(dev):
    prod = evaluate("prod")
    assert prod.named("mi-uai-prod-endpoint").protect and prod.named("mi-uai-prod-identity").protect
    assert not dev.named("mi-uai-dev-endpoint").protect


def test_every_taggable_resource_carries_the_stack_tags(dev):
    expected = {"owner": "ml-platform", "costCenter": "ml-dev", "environment": "dev", "stack": "dev", "managed-by": "pulumi"}
    taggable = [r for r in dev.registrations if r.type in TAGGABLE]
    assert len(taggable) == 8  # identity x 2, endpoint x 2, deployment x 2, storage account, compute
    for resource in taggable:
        assert resource.inputs["tags"] == expected, resource.name


def test_outputs(dev, sai):
    endpoint = dev.outputs["onlineEndpoints"]["mi-uai-dev"]
    uai = dev.named("mi-uai-dev-identity")
    assert endpoint["scoringUri"] == dev.named("mi-uai-dev-endpoint").outputs["properties"]["scoringUri"]
    assert endpoint["principalId"] == uai.outputs["principalId"] and endpoint["clientId"] == uai.outputs["clientId"]
    assert (endpoint["identityType"], endpoint["authMode"]) == ("UserAssigned", "Key")
    assert not is_secret(dev.outputs["onlineEndpoints"])
    keys = dev.outputs["onlineEndpointKeys"]
    assert is_secret(keys) and keys["value"]["mi-uai-dev"].startswith("pk-")
    assert (dev.outputs["dataStorageAccount"], dev.outputs["dataContainer"]) == ("stmlepdevdata", "data")
    sai_endpoint = sai.outputs["onlineEndpoints"]["mi-sai-dev"]
    assert "clientId" not in sai_endpoint
    assert sai_endpoint["principalId"] == sai.named("mi-sai-dev-endpoint").outputs["identity"]["principalId"]


def test_token_auth_endpoints_export_no_keys():
    prod = evaluate("prod")
    assert prod.outputs["onlineEndpointKeys"]["value"] == {}
    assert not [c for c in prod.mocks.calls if c[0].endswith("listOnlineEndpointKeys")]


def test_same_config_registers_same_names_and_inputs():
    def snapshot():
        evaluation = evaluate("dev")
        return {r.urn: (r.inputs, sorted(r.dependencies)) for r in evaluation.registrations}

    first, second = snapshot(), snapshot()
    assert first == second and len(first) > 15


def test_bad_config_registers_nothing(dev_config):
    dev_config["azureml-endpoints:onlineEndpoints"][0]["traffic"] = {"blue": 60}
    evaluation = evaluate("dev", config=dev_config, raise_errors=False)
    assert isinstance(evaluation.error, SettingsError)
    assert "azureml-endpoints:onlineEndpoints[0].traffic: percentages must sum to 100 (they sum to 60)" in str(evaluation.error)
    assert evaluation.registrations == []


def test_workspace_without_registry_is_refused_with_what_to_do():
    workspace = FakeWorkspace("mlw-endpoints-dev", "rg-ml-endpoints-dev", has_registry=False)
    evaluation = evaluate("dev", workspaces=[workspace], raise_errors=False)
    message = str(evaluation.error)
    assert isinstance(evaluation.error, SettingsError)
    assert "azureml-endpoints:workspace.containerRegistryId" in message and "has no container registry yet" in message
    assert evaluation.registrations == []


def test_configured_registry_is_used_when_the_workspace_has_none(dev_config):
    registry = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/crshared01"
    dev_config["azureml-endpoints:workspace"]["containerRegistryId"] = registry
    workspace = FakeWorkspace("mlw-endpoints-dev", "rg-ml-endpoints-dev", has_registry=False)
    evaluation = evaluate("dev", config=dev_config, workspaces=[workspace])
    assert evaluation.named("mi-uai-dev-roles-registry-acr-pull").inputs["scope"] == registry


def test_unknown_workspace_fails_before_registering():
    evaluation = evaluate("dev", workspaces=[], raise_errors=False)
    assert "ResourceNotFound" in str(evaluation.error) and "mlw-endpoints-dev" in str(evaluation.error)
    assert evaluation.registrations == []


def test_components_follow_the_naming_convention(dev):
    by_urn = dev.by_urn()
    for resource in dev.registrations:
        parent = by_urn.get(resource.parent)
        if parent is not None:
            assert resource.name.startswith(parent.name + "-"), resource.name
