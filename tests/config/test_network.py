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
