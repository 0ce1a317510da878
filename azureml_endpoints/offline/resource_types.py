"""One record per resource type the program or bootstrap/ registers: everything the offline machinery knows of it.

A record says how the ARM-like mocks answer a create (`answer`, a function of arm_mocks), how long Azure
takes to create one (`seconds`, low and high, for the time estimate), and the line the offline preview and
`plan-diff` print for it (`line`). A type without a record is refused by all three at once, naming this file,
so a new Azure resource is never silently free, instant or blank (tests/offline/test_resource_types.py checks
that every type a shipped or fixture stack registers has one).

Create times are assumptions (Azure documents few), except a deployment's 8 to 14 minutes ("Access Azure
resources from an online endpoint with a managed identity"); the propagation wait counts its configured seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azureml_endpoints.azure.roles import INVOKER_ROLE, ROLE_DEFINITIONS, invoker_role_guid
from azureml_endpoints.offline import arm_mocks as arm
from azureml_endpoints.offline.arm_mocks import Registration

Answer = Callable[["arm.ArmMocks", dict], tuple[str, dict]]
Seconds = tuple[float, float]


@dataclass(frozen=True)
class ResourceType:
    answer: Answer | None  # None: not an Azure resource; the mocks keep its inputs as outputs
    seconds: Seconds | Callable[[Registration], Seconds]
    line: Callable[[Registration], str]


class UnknownResourceType(KeyError):
    def __str__(self) -> str:
        return f"no record for resource type {self.args[0]}: add one to azureml_endpoints/offline/resource_types.py"


_ROLE_NAMES = {guid: name for name, guid in ROLE_DEFINITIONS.items()}


def _short_id(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else resource_id


def asset_label(asset_id: str) -> str:
    """`name:version` of a model, code or environment version id (ARM or registry), `@registry` for a registry asset."""
    parts = asset_id.strip("/").split("/")
    if len(parts) < 4 or parts[-2] != "versions":
        return asset_id
    label = f"{parts[-3]}:{parts[-1]}"
    return f"{label}@{parts[parts.index('registries') + 1]}" if asset_id.startswith("azureml://registries/") else label


def runs(properties: dict, model_id: str) -> str:
    """What a deployment runs: model, and code with script plus environment unless Azure builds them (MLflow)."""
    code = properties.get("codeConfiguration")
    if not code:
        return f"model {asset_label(model_id)}, no-code (Azure builds code and environment)"
    return (
        f"model {asset_label(model_id)}, code {asset_label(code['codeId'])} {code['scoringScript']}, "
        f"environment {asset_label(properties['environmentId'])}"
    )


def _role_assignment(r: Registration) -> str:
    i = r.inputs
    definition = i["roleDefinitionId"]
    guid = definition.rsplit("/", 1)[-1]
    invoker = invoker_role_guid(definition.split("/")[2]) if definition.startswith("/subscriptions/") else None
    role = INVOKER_ROLE if guid == invoker else _ROLE_NAMES.get(guid, definition)
    return f"{role} -> {_short_id(i['scope'])} ({i.get('principalType')})"


def _endpoint(r: Registration) -> str:
    """Who it runs as, how callers authenticate and, for a private endpoint, that it takes no public traffic."""
    private = ", public network access Disabled" if r.inputs["properties"].get("publicNetworkAccess") == "Disabled" else ""
    flags = " protected" if r.protect else ""
    return f"identity {r.inputs['identity']['type']}, auth {r.inputs['properties']['authMode']}{private}{flags}"


def _online_deployment(r: Registration) -> str:
    i, p = r.inputs, r.inputs["properties"]
    # Under autoscale the count is Azure's current one (the first `up`: the default); the autoscale line shows the range.
    return f"{p['instanceType']} x {int(i['sku']['capacity'])}, {runs(p, p['model'])}"


def _batch_deployment(r: Registration) -> str:
    p = r.inputs["properties"]
    retry = p["retrySettings"]
    return (
        f"{runs(p, p['model']['assetId'])}, "
        f"instances {int(p['resources']['instanceCount'])}, concurrency {int(p['maxConcurrencyPerInstance'])}, "
        f"mini-batch {int(p['miniBatchSize'])}, retries {int(retry['maxRetries'])}/{retry['timeout']}, "
        f"error threshold {int(p['errorThreshold'])}, {p['outputAction']} -> {p['outputFileName']}"
    )


def _compute(r: Registration) -> str:
    p = r.inputs["properties"]["properties"]
    scale = p["scaleSettings"]
    return (
        f"{p['vmSize']} {int(scale.get('minNodeCount', 0))}..{int(scale['maxNodeCount'])} nodes, "
        f"idle {scale['nodeIdleTimeBeforeScaleDown']}, identity {r.inputs['identity']['type']}"
    )


def _template_deployment(r: Registration) -> str:
    (endpoint,) = r.inputs["properties"]["template"]["resources"]
    p = endpoint["properties"]
    if "defaults" in p:
        return f"default deployment {p['defaults']['deploymentName']}"
    split = ", ".join(f"{k} {int(v)}%" for k, v in p["traffic"].items())
    mirror = p.get("mirrorTraffic")
    return f"traffic {split}" + (f"; mirror {', '.join(f'{k} {int(v)}%' for k, v in mirror.items())}" if mirror else "")


def _autoscale_setting(r: Registration) -> str:
    capacity = r.inputs["profiles"][0]["capacity"]
    return (
        f"{r.inputs['autoscaleSettingName']}: {capacity['minimum']} to {capacity['maximum']} instances, the deployment's count is Azure's"
    )


def _named(key: str) -> Callable[[Registration], str]:
    return lambda r: str(r.inputs.get(key, ""))


def _dynamic_seconds(r: Registration) -> Seconds:
    """The program's dynamic resources: the propagation wait (its seconds), or an Entra upload (quick)."""
    if "sha256" in r.inputs:
        return _QUICK
    seconds = float(r.inputs.get("seconds", 0))
    return seconds, seconds


def _dynamic_line(r: Registration) -> str:
    if "sha256" in r.inputs:
        return f"upload {r.inputs['blobName']} with Entra (sha256 {r.inputs['sha256'][:12]})"
    return f"wait {int(r.inputs['seconds'])}s for role propagation"


# "Managed virtual network isolation": provisioning a managed network takes Azure up to about 30 minutes, once.
PROVISION_SECONDS = (15 * 60, 30 * 60)
_WORKSPACE = (60, 240)


def _workspace_seconds(r: Registration) -> Seconds:
    if r.inputs.get("provisionNetworkNow"):
        return _WORKSPACE[0] + PROVISION_SECONDS[0], _WORKSPACE[1] + PROVISION_SECONDS[1]
    return _WORKSPACE


def _workspace_line(r: Registration) -> str:
    network = r.inputs.get("managedNetwork")
    if not network:
        return r.inputs["workspaceName"]
    firewall = f", Azure Firewall {network['firewallSku']} for FQDN rules (billed hourly)" if network.get("firewallSku") else ""
    provision = ", managed network provisioned now (~30 min)" if r.inputs.get("provisionNetworkNow") else ""
    return f"{r.inputs['workspaceName']} managed network {network['isolationMode']}{provision}{firewall}, public access {r.inputs.get('publicNetworkAccess')}"


def _outbound_rule(r: Registration) -> str:
    p = r.inputs["properties"]
    if p["type"] == "PrivateEndpoint":
        return f"private endpoint rule -> {_short_id(p['destination']['serviceResourceId'])} {p['destination']['subresourceTarget']}"
    if p["type"] == "FQDN":
        return f"FQDN rule -> {p['destination']} (Azure Firewall)"
    d = p["destination"]
    return f"service tag rule -> {d['serviceTag']} {d['protocol']}/{d['portRanges']}"


def _private_endpoint(r: Registration) -> str:
    (connection,) = r.inputs["privateLinkServiceConnections"]
    return f"{r.inputs['privateEndpointName']} -> {_short_id(connection['privateLinkServiceId'])} {connection['groupIds'][0]}"


_ASSET = (5, 15)
_QUICK = (5, 20)
ML = "azure-native:machinelearningservices:"
RECORDS: dict[str, ResourceType] = {
    # Managed online and batch endpoints
    f"{ML}OnlineEndpoint": ResourceType(arm.online_endpoint, (60, 180), _endpoint),
    f"{ML}OnlineDeployment": ResourceType(arm.online_deployment, (8 * 60, 14 * 60), _online_deployment),
    f"{ML}BatchEndpoint": ResourceType(arm.batch_endpoint, (30, 90), _endpoint),
    f"{ML}BatchDeployment": ResourceType(arm.batch_deployment, (30, 120), _batch_deployment),
    f"{ML}Compute": ResourceType(arm.compute, (60, 180), _compute),  # min nodes 0: no node is allocated
    f"{ML}Datastore": ResourceType(
        arm.datastore,
        _ASSET,
        lambda r: (
            f"{r.inputs['name']} -> container {r.inputs['properties']['containerName']}, "
            f"credentials {r.inputs['properties']['credentials']['credentialsType']}"
        ),
    ),
    f"{ML}CodeVersion": ResourceType(arm.asset_version("codes"), _ASSET, lambda r: f"{r.inputs['name']}:{r.inputs['version']}"),
    f"{ML}ModelVersion": ResourceType(arm.asset_version("models"), _ASSET, lambda r: f"{r.inputs['name']}:{r.inputs['version']}"),
    # The image builds with the first deployment that uses it, not here.
    f"{ML}EnvironmentVersion": ResourceType(
        arm.asset_version("environments"), _ASSET, lambda r: f"{r.inputs['name']}:{r.inputs['version']}"
    ),
    f"{ML}Workspace": ResourceType(arm.ml_workspace, _workspace_seconds, _workspace_line),
    f"{ML}ManagedNetworkSettingsRule": ResourceType(arm.managed_network_rule, (30, 300), _outbound_rule),
    # Traffic and batch defaults: the endpoint re-sent through a template deployment (one endpoint update).
    "azure-native:resources:Deployment": ResourceType(arm.template_deployment, (60, 180), _template_deployment),
    # Identities and access
    "azure-native:managedidentity:UserAssignedIdentity": ResourceType(arm.user_assigned_identity, _QUICK, _named("resourceName")),
    "azure-native:authorization:RoleAssignment": ResourceType(arm.role_assignment, _QUICK, _role_assignment),
    "azure-native:authorization:RoleDefinition": ResourceType(arm.role_definition, _QUICK, _named("roleName")),
    "azure-native:authorization:PolicyExemption": ResourceType(
        arm.policy_exemption,
        _QUICK,
        lambda r: (
            f"waives {', '.join(r.inputs.get('policyDefinitionReferenceIds') or ['the assignment'])} of {_short_id(r.inputs['policyAssignmentId'])} on {_short_id(r.inputs['scope'])}"
        ),
    ),
    "pulumi-python:dynamic:Resource": ResourceType(None, _dynamic_seconds, _dynamic_line),
    # Storage
    "azure-native:storage:StorageAccount": ResourceType(
        arm.storage_account,
        (20, 60),
        lambda r: f"{r.inputs['accountName']} {r.inputs['sku']['name']} {r.inputs['minimumTlsVersion']} in {r.inputs['location']}",
    ),
    "azure-native:storage:BlobContainer": ResourceType(arm.blob_container, (2, 10), _named("containerName")),
    "azure-native:storage:Blob": ResourceType(arm.blob, (2, 10), lambda r: f"{r.inputs['containerName']}/{r.inputs['blobName']}"),
    "azure-native:storage:BlobServiceProperties": ResourceType(
        arm.blob_service_properties, (2, 10), lambda r: f"versioning and soft delete on {r.inputs['accountName']}"
    ),
    # A created workspace's dependencies, and bootstrap/'s state backend
    "azure-native:resources:ResourceGroup": ResourceType(arm.resource_group, _QUICK, _named("resourceGroupName")),
    "azure-native:keyvault:Vault": ResourceType(arm.key_vault, (20, 60), _named("vaultName")),
    "azure-native:keyvault:Key": ResourceType(arm.key_vault_key, _QUICK, _named("keyName")),
    "azure-native:containerregistry:Registry": ResourceType(arm.container_registry, (20, 90), _named("registryName")),
    "azure-native:operationalinsights:Workspace": ResourceType(arm.log_analytics_workspace, (20, 60), _named("workspaceName")),
    "azure-native:applicationinsights:Component": ResourceType(arm.application_insights, (10, 40), _named("resourceName")),
    "azure-native:authorization:ManagementLockAtResourceGroupLevel": ResourceType(
        arm.resource_group_lock, _QUICK, lambda r: f"{r.inputs.get('level')} lock on {r.inputs.get('resourceGroupName')}"
    ),
    # Inbound private access
    "azure-native:network:PrivateEndpoint": ResourceType(arm.private_endpoint, (60, 180), _private_endpoint),
    "azure-native:network:PrivateDnsZoneGroup": ResourceType(
        arm.private_dns_zone_group, (10, 60), lambda r: f"zones {', '.join(c['name'] for c in r.inputs['privateDnsZoneConfigs'])}"
    ),
    "azure-native:privatedns:PrivateZone": ResourceType(arm.private_zone, (20, 60), _named("privateZoneName")),
    "azure-native:privatedns:VirtualNetworkLink": ResourceType(
        arm.virtual_network_link, (20, 90), lambda r: f"{r.inputs['privateZoneName']} -> {_short_id(r.inputs['virtualNetwork']['id'])}"
    ),
    # Operability
    "azure-native:monitor:AutoscaleSetting": ResourceType(arm.autoscale_setting, _QUICK, _autoscale_setting),
    "azure-native:monitor:DiagnosticSetting": ResourceType(arm.diagnostic_setting, _QUICK, _named("name")),
    "azure-native:monitor:ActionGroup": ResourceType(arm.action_group, _QUICK, _named("actionGroupName")),
    "azure-native:monitor:MetricAlert": ResourceType(arm.metric_alert, (5, 30), _named("ruleName")),
    "azure-native:monitor:ScheduledQueryRule": ResourceType(arm.scheduled_query_rule, (5, 30), _named("ruleName")),
    # Entra (bootstrap/ and endpoint callers)
    "azuread:index/group:Group": ResourceType(arm.entra_group, _QUICK, _named("displayName")),
    "azuread:index/application:Application": ResourceType(arm.entra_application, _QUICK, _named("displayName")),
    "azuread:index/servicePrincipal:ServicePrincipal": ResourceType(arm.entra_service_principal, _QUICK, lambda r: "service principal"),
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential": ResourceType(
        arm.federated_credential, _QUICK, _named("subject")
    ),
    "azuread:index/applicationFlexibleFederatedIdentityCredential:ApplicationFlexibleFederatedIdentityCredential": ResourceType(
        arm.flexible_federated_credential, _QUICK, _named("claimsMatchingExpression")
    ),
}


def record(type_: str) -> ResourceType:
    found = RECORDS.get(type_)
    if found is None:
        raise UnknownResourceType(type_)
    return found


def create_seconds(r: Registration) -> Seconds:
    seconds = record(r.type).seconds
    return seconds(r) if callable(seconds) else seconds


def preview_line(r: Registration) -> str:
    """The settings a reviewer checks for one resource; a component has none of its own."""
    return record(r.type).line(r) if r.custom else ""
