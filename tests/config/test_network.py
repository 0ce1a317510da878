"""The private path's config (azureml_endpoints/config/network.py): each bad input refused at its key, before
anything registers; the isolation mode only moves forward; zones must be the provider's cloud's."""

import copy

import pytest
import yaml

from azureml_endpoints.azure.clouds import cloud_name, zone_names
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import CONFIG_NAMESPACE, check_cloud, parse_settings, provider_cloud
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import stack_config

NS = CONFIG_NAMESPACE
SUB = "00000000-0000-4000-8000-000000000001"
ZONE = f"/subscriptions/{SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/"


def private_raw() -> dict:
    doc = yaml.safe_load((project_dir() / "Pulumi.sandbox-private.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in doc.items()}


def refused(raw: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw)
    return str(error.value)


def test_the_shipped_private_stack_is_valid():
    settings = parse_settings(private_raw())
    assert settings.network.isolation_mode.value == "AllowOnlyApprovedOutbound"
    assert settings.private_endpoint_groups() == ["blob", "amlworkspace", "vault"]


@pytest.mark.parametrize(
    "change, key, words",
    [
        (lambda n: n.pop("privateEndpointSubnetId"), "network.privateEndpointSubnetId", "is required"),
        (
            lambda n: n.update(
                privateEndpointSubnetId=f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"
            ),
            "network.privateEndpointSubnetId",
            "a subnet's ARM id",
        ),
        (lambda n: n.update(isolationMode="Disabled"), "network.isolationMode", "remove network to stay public"),
        (
            lambda n: n.update(
                isolationMode="AllowInternetOutbound", outboundRules=[{"name": "pypi", "type": "FQDN", "destination": "pypi.org"}]
            ),
            "network",
            "FQDN rules (pypi) exist only in AllowOnlyApprovedOutbound",
        ),
        (
            lambda n: n.update(outboundRules=[{"name": "data", "type": "FQDN", "destination": "other.blob.core.windows.net"}]),
            "network.outboundRules[0]",
            "is a storage account",
        ),
        (
            lambda n: n.update(outboundRules=[{"name": "x", "type": "ServiceTag", "serviceTag": "AzureMonitor", "protocol": "TCP"}]),
            "network.outboundRules[0]",
            "needs serviceTag, protocol and portRanges",
        ),
        (lambda n: n.update(dns={"mode": "ExistingZones"}), "network.dns", "needs zoneIds"),
        (
            lambda n: n.update(dns={"mode": "AzurePolicy", "zoneIds": [ZONE + "privatelink.api.azureml.ms"]}),
            "network.dns",
            "only with mode ExistingZones",
        ),
        (lambda n: n.update(imageBuildCompute="nosuch"), "network.imageBuildCompute", "is not a batch endpoint's cluster"),
    ],
)
def test_bad_network_input_is_refused_at_its_key(change, key, words):
    raw = private_raw()
    change(raw["network"])
    message = refused(raw)
    assert f"{NS}:{key}: " in message and words in message, message


def test_a_private_stack_refuses_what_stays_public():
    raw = private_raw()
    raw["workspace"]["publicNetworkAccess"] = "Enabled"
    raw["workspace"]["containerRegistrySku"] = "Standard"
    raw["onlineEndpoints"][0]["publicNetworkAccess"] = "Enabled"
    message = refused(raw)
    assert f"{NS}:workspace.publicNetworkAccess: must be Disabled" in message
    assert f"{NS}:workspace.containerRegistrySku: must be Premium" in message
    assert f"{NS}:onlineEndpoints[0].publicNetworkAccess: must be Disabled" in message


@pytest.mark.parametrize("sku", ["Basic", "Standard"])
def test_a_registry_below_premium_cannot_disable_public_access_even_without_network(sku):
    raw = private_raw()
    raw.pop("network")
    raw["onlineEndpoints"][0]["publicNetworkAccess"] = "Enabled"
    raw["workspace"]["containerRegistrySku"] = sku
    assert f"containerRegistrySku {sku} cannot disable public network access" in refused(raw)


@pytest.mark.parametrize(
    "was, now, allowed",
    [
        ("AllowOnlyApprovedOutbound", "AllowInternetOutbound", False),
        ("AllowInternetOutbound", None, False),
        ("AllowInternetOutbound", "AllowOnlyApprovedOutbound", True),
        ("Disabled", "AllowInternetOutbound", True),
    ],
)
def test_the_isolation_mode_only_moves_forward(was, now, allowed):
    raw = private_raw()
    raw["networkIsolationBaseline"] = {"rg-ml-endpoints-sbx-private/mlw-endpoints-sbx-private": was}
    if now is None:
        raw.pop("network")
        raw["workspace"]["publicNetworkAccess"] = "Enabled"
        raw["onlineEndpoints"][0]["publicNetworkAccess"] = "Enabled"
    else:
        raw["network"]["isolationMode"] = now
    if allowed:
        parse_settings(raw)
    else:
        assert f"{NS}:network.isolationMode: workspace 'mlw-endpoints-sbx-private' has managed network {was}" in refused(raw)


def existing_zones(cloud: str) -> dict:
    raw = private_raw()
    zones = [ZONE + z for group in ("blob", "amlworkspace", "vault") for z in zone_names(cloud, group)]
    raw["network"]["dns"] = {"mode": "ExistingZones", "zoneIds": zones}
    return raw


@pytest.mark.parametrize("cloud", ["public", "usgovernment", "china"])
def test_existing_zones_of_the_providers_cloud_pass(cloud):
    check_cloud(parse_settings(existing_zones(cloud)), cloud)


def test_zones_named_for_another_cloud_are_refused():
    settings = parse_settings(existing_zones("china"))
    with pytest.raises(SettingsError) as error:
        check_cloud(settings, "public")
    message = str(error.value)
    assert f"{NS}:network.dns.zoneIds: 'privatelink.api.ml.azure.cn' is a zone of the china cloud" in message
    assert "also need privatelink.blob" in message


def test_a_missing_zone_is_refused():
    raw = existing_zones("public")
    raw["network"]["dns"]["zoneIds"] = [z for z in raw["network"]["dns"]["zoneIds"] if "notebooks" not in z]  # the workspace needs both
    with pytest.raises(SettingsError, match="also need privatelink.notebooks.azure.net"):
        check_cloud(parse_settings(raw), "public")


def test_the_cloud_comes_from_the_provider_setting(monkeypatch):
    monkeypatch.delenv("ARM_ENVIRONMENT", raising=False)
    assert provider_cloud(None) == "public"
    assert provider_cloud("AzureChinaCloud") == "china"
    monkeypatch.setenv("ARM_ENVIRONMENT", "usgovernment")
    assert provider_cloud(None) == "usgovernment"
    with pytest.raises(SettingsError, match="azure-native:environment: 'mars'"):
        provider_cloud("mars")
    assert cloud_name("public") == "public"


def test_the_program_reads_the_cloud_from_azure_native_environment():
    config = stack_config("sandbox-private")
    config[f"{NS}:network"] = {**config[f"{NS}:network"], "dns": existing_zones("public")["network"]["dns"]}
    config["azure-native:environment"] = "china"
    evaluation = evaluate("sandbox-private", config=config, raise_errors=False)
    assert evaluation.registrations == []
    assert "is a zone of the public cloud, and the provider deploys to china" in str(evaluation.error)


# Registries (docs/private-networking.md#registries): a registry a deployment runs assets of is listed with its id.
REGISTRY_ID = f"/subscriptions/{SUB}/resourceGroups/rg-ml-registries/providers/Microsoft.MachineLearningServices/registries/"
REGISTRY_MODEL = "azureml://registries/shared-models/models/credit/versions/3"
REGISTRY_ENVIRONMENT = "azureml://registries/shared-models/environments/sklearn/versions/2"


def with_registry_model(raw: dict, model: str = REGISTRY_MODEL, where: str = "onlineEndpoints") -> dict:
    deployment = raw[where][0]["deployments"][0]
    deployment.update(model=model, modelType="custom_model", code="ml/onlinescoring", scoringScript="score_managedidentity.py")
    deployment.setdefault("environment", "sklearn-scoring")
    return raw


def listed(*names: str) -> list[dict]:
    return [{"name": n, "resourceId": REGISTRY_ID + n} for n in names]


@pytest.mark.parametrize("where", ["onlineEndpoints", "batchEndpoints"])
def test_a_listed_registry_passes_for_online_and_batch_deployments(where):
    raw = with_registry_model(private_raw(), where=where)
    raw["network"]["registries"] = listed("Shared-Models")  # names compare ignoring case, as ARM's
    (registry,) = parse_settings(raw).network.registries
    assert registry.resource_id == REGISTRY_ID + "Shared-Models"


def test_a_registry_environment_needs_its_registry_listed_too():
    raw = private_raw()
    raw["onlineEndpoints"][0]["deployments"][0]["environment"] = REGISTRY_ENVIRONMENT
    assert f"{NS}:onlineEndpoints[0].deployments[0].environment: registry 'shared-models' is not in network.registries" in refused(raw)
    raw["network"]["registries"] = listed("shared-models")
    parse_settings(raw)


@pytest.mark.parametrize(
    "model, registries, rules, key, words",
    [
        (REGISTRY_MODEL, [], [], "onlineEndpoints[0].deployments[0].model", "registry 'shared-models' is not in network.registries"),
        (REGISTRY_MODEL, listed("shared-models", "other"), [], "network.registries[1]", "no deployment runs a model or environment"),
        (REGISTRY_MODEL, listed("shared-models", "shared-models"), [], "network.registries", "each registry is listed once"),
        (
            REGISTRY_MODEL,
            [{"name": "shared-models", "resourceId": REGISTRY_ID + "shared-modles"}],
            [],
            "network.registries[0]",
            "is the id of registry 'shared-modles', not of 'shared-models'",
        ),
        (
            REGISTRY_MODEL,
            [
                {
                    "name": "shared-models",
                    "resourceId": REGISTRY_ID.replace("MachineLearningServices", "ContainerRegistry") + "shared-models",
                }
            ],
            [],
            "network.registries[0].resourceId",
            "an Azure ML registry's ARM id",
        ),
        (
            REGISTRY_MODEL,
            [{"name": "shared-models", "resourceId": "shared-models"}],
            [],
            "network.registries[0].resourceId",
            "an Azure ML registry's ARM id",
        ),
        (
            "azureml://registries/azureml/models/credit/versions/3",
            listed("azureml"),
            [],
            "network.registries[0]",
            "is a registry Azure runs for every tenant",
        ),
        (
            "azureml://registries/HuggingFace/models/bert-base-uncased/versions/1",
            [],
            [{"name": "hub", "type": "FQDN", "destination": "huggingface.co"}],
            "onlineEndpoints[0].deployments[0].model",
            "add network.outboundRules of type FQDN for docker.io, production.cloudflare.docker.com, cdn-lfs.huggingface.co, cdn.auth0.com",
        ),
        (
            REGISTRY_MODEL,
            listed("shared-models"),
            [{"name": "registry-shared-models", "type": "FQDN", "destination": "example.com"}],
            "network",
            "registry-shared-models is the name of a rule the stack derives",
        ),
    ],
    ids=[
        "unlisted",
        "unused",
        "twice",
        "other-registrys-id",
        "container-registry-id",
        "not-an-id",
        "shared-listed",
        "hub-hosts",
        "rule-name",
    ],
)
def test_bad_registry_input_is_refused_at_its_key(model, registries, rules, key, words):
    raw = with_registry_model(private_raw(), model)
    raw["network"].update(registries=registries, outboundRules=[*raw["network"]["outboundRules"], *rules])
    message = refused(raw)
    assert f"{NS}:{key}: " in message and words in message, message


def test_the_registries_azure_runs_need_no_listing():
    raw = with_registry_model(private_raw(), "azureml://registries/azureml/models/credit/versions/3")
    parse_settings(raw)
    hub = with_registry_model(private_raw(), "azureml://registries/HuggingFace/models/bert-base-uncased/versions/1")
    hub["network"]["outboundRules"] += [
        {"name": f"hf-{i}", "type": "FQDN", "destination": host}
        for i, host in enumerate(["docker.io", "huggingface.co", "*.docker.com", "*.huggingface.co", "cdn.auth0.com"])
    ]
    parse_settings(hub)  # production.cloudflare.docker.com and cdn-lfs.huggingface.co under the wildcards
    hub["network"].update(isolationMode="AllowInternetOutbound", outboundRules=[])
    parse_settings(hub)  # every host is allowed already


def test_a_public_stack_references_registries_without_listing():
    raw = with_registry_model(private_raw())
    raw.pop("network")
    raw["workspace"]["publicNetworkAccess"] = "Enabled"
    raw["onlineEndpoints"][0]["publicNetworkAccess"] = "Enabled"
    parse_settings(raw)
