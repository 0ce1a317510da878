"""What the Azure landing zone initiative `Enforce-Guardrails-MachineLearning` would do to what a stack declares.

Source: Azure/Enterprise-Scale `src/resources/Microsoft.Authorization/policySetDefinitions/
Enforce-Guardrails-MachineLearning.json` (version 1.2.0: each member's reference id, built-in definition and
default effect), and each built-in definition's policy rule in Azure/azure-policy
`built-in-policies/policyDefinitions/Machine Learning/` (file named beside each entry). The conditions below
restate those rules on the inputs the program sends; a landing zone may assign other effects than the defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
BATCH_DEPLOYMENT = "azure-native:machinelearningservices:BatchDeployment"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _cluster_or_instance(r) -> bool:
    return r.type == COMPUTE and _get(r.inputs, "properties", "computeType") in ("AmlCompute", "ComputeInstance")


def _no_primary_uai(r, _stack) -> str | None:
    if r.type == WORKSPACE and not r.inputs.get("primaryUserAssignedIdentity"):
        return "the workspace names no primaryUserAssignedIdentity"
    return None


def _public_workspace(r, _stack) -> str | None:
    if r.type == WORKSPACE and r.inputs.get("publicNetworkAccess") != "Disabled":
        stated = r.inputs.get("publicNetworkAccess") or "unset"
        return f"publicNetworkAccess is {stated}: the policy sets Disabled, and every `pulumi up` sets it back (drift)"
    return None


def _local_auth(r, _stack) -> str | None:
    if _cluster_or_instance(r) and _get(r.inputs, "properties", "disableLocalAuth") is not True:
        return "the compute's disableLocalAuth is not true"
    return None


def _no_subnet(r, _stack) -> str | None:
    if _cluster_or_instance(r) and not _get(r.inputs, "properties", "properties", "subnet", "id"):
        return "the compute has no subnet.id (a managed network's compute has none either: audit only)"
    return None


def _legacy_mode(r, _stack) -> str | None:
    if r.type == WORKSPACE and str(r.inputs.get("v1LegacyMode")).lower() != "true":
        # "Network isolation change with our new API platform on Azure Resource Manager": v1_legacy_mode "disables
        # the v2 API for the workspace", and managed online endpoints exist only through the v2 API.
        return (
            "v1LegacyMode is not true (V1 legacy mode disables the v2 API that managed online endpoints need): waive it with "
            "bootstrap's environments.<env>.landingZoneExemptions, or assign the initiative with mlLegacyMode Audit"
        )
    return None


def _no_private_link(r, stack) -> str | None:
    if r.type != WORKSPACE:
        return None
    for pe in (p for p in stack if p.type == PRIVATE_ENDPOINT):
        for connection in pe.inputs.get("privateLinkServiceConnections") or []:
            targets = connection.get("privateLinkServiceId") if isinstance(connection, dict) else None
            if "amlworkspace" in (connection.get("groupIds") or []) and (
                targets == r.id or r.urn in pe.property_dependencies.get("privateLinkServiceConnections", [])
            ):
                return None  # the deployer owns the workspace: the connection is approved on creation
    return "no private endpoint of the stack connects to the workspace (group amlworkspace)"


def _no_resource_logs(r, stack) -> str | None:
    if r.type != WORKSPACE:
        return None
    if any(d.type == DIAGNOSTIC_SETTING and (d.inputs.get("resourceUri") == r.id and r.id) for d in stack):
        return None
    return "the stack adds no diagnostic setting to the workspace"


def _registry_model(r, _stack) -> str | None:
    model = _get(r.inputs, "properties", "model")
    if r.type in (ONLINE_DEPLOYMENT, BATCH_DEPLOYMENT) and isinstance(model, str) and model.startswith("azureml://registries/"):
        return f"the deployment's model {model} comes from a registry; the initiative allows none unless allowedRegistryName is set"
    return None


@dataclass(frozen=True)
class LandingZonePolicy:
    reference_id: str  # policyDefinitionReferenceId in the initiative
    definition_id: str  # the built-in policy definition's name (GUID)
    display_name: str
    effect: str  # the initiative's default effect
    source: str  # the built-in's file in Azure/azure-policy
    finds: Callable | None  # (registration, all registrations) -> why it applies, or None; None: not ARM-visible


INITIATIVE = "Enforce-Guardrails-MachineLearning"
POLICIES = (
    LandingZonePolicy(
        "Deny-ML-User-Assigned-Identity",
        "5f0c7d88-c7de-45b8-ac49-db49e72eaa78",
        "Azure Machine Learning workspaces should use user-assigned managed identity",
        "Deny",
        "Workspace_UAIEnabled_Audit.json",
        _no_primary_uai,
    ),
    LandingZonePolicy(
        "Modify-ML-Public-Network-Access",
        "a10ee784-7409-4941-b091-663697637c0f",
        "Configure Azure Machine Learning Workspaces to disable public network access",
        "Modify",
        "Workspace_PublicNetworkAccessDisabled_Modify.json",
        _public_workspace,
    ),
    LandingZonePolicy(
        "Deny-ML-Local-Auth",
        "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",
        "Azure Machine Learning Computes should have local authentication methods disabled",
        "Deny",
        "DisableLocalAuth_Audit.json",
        _local_auth,
    ),
    LandingZonePolicy(
        "Modify-ML-Local-Auth",
        "a6f9a2d0-cff7-4855-83ad-4cd750666512",
        "Configure Azure Machine Learning Computes to disable local authentication methods",
        "Modify",
        "DisableLocalAuth_Modify.json",
        _local_auth,
    ),
    LandingZonePolicy(
        "Deny-ML-Legacy-Mode",
        "e413671a-dd10-4cc1-a943-45b598596cb7",
        "Azure Machine Learning workspaces should enable V1LegacyMode to support network isolation backward compatibility",
        "Deny",
        "Workspace_EnableV1LegacyMode_Audit.json",
        _legacy_mode,
    ),
    LandingZonePolicy(
        "Audit-ML-Private-Link",
        "45e05259-1eb5-4f70-9574-baf73e9d219b",
        "Azure Machine Learning workspaces should use private link",
        "Audit",
        "Workspace_PrivateEndpoint_Audit_V2.json",
        _no_private_link,
    ),
    LandingZonePolicy(
        "Audit-ML-Virtual-Network",
        "7804b5c7-01dc-4723-969b-ae300cc07ff1",
        "Azure Machine Learning Computes should be in a virtual network",
        "Audit",
        "Vnet_Audit.json",
        _no_subnet,
    ),
    LandingZonePolicy(
        "Aine-ML-Resource-Logs",
        "afe0c3be-ba3b-4544-ba52-0c99672a8ad6",
        "Resource logs in Azure Machine Learning Workspaces should be enabled",
        "AuditIfNotExists",
        "AuditDiagnosticLog_Audit.json",
        _no_resource_logs,
    ),
    LandingZonePolicy(
        "Deny-ML-Allowed-Registry-Deploy",
        "19539b54-c61e-4196-9a38-67598701be90",
        "[Preview]: Azure Machine Learning Model Registry Deployments are restricted except for the allowed Registry",
        "Deny",
        "OnlyDeployAllowedRegistryModels_Deny.json",
        _registry_model,
    ),
    # Compute instances only (the program creates clusters): nothing to find.
    LandingZonePolicy(
        "Deny-ML-Outdated-Os",
        "f110a506-2dcb-422e-bcea-d533fc8c35e2",
        "Azure Machine Learning compute instances should be recreated to get the latest software updates",
        "Audit",
        "ComputeInstanceUpdates_Audit.json",
        None,
    ),
    LandingZonePolicy(
        "Deny-ML-Idle-Shutdown",
        "679ddf89-ab8f-48a5-9029-e76054077449",
        "Azure Machine Learning Compute Instance should have idle shutdown.",
        "Deny",
        "IdleShutdown_Audit.json",
        None,
    ),
    # enforceSetting on the workspace's jobs (data plane), not on ARM resources: nothing a preview can see.
    LandingZonePolicy(
        "Deny-ML-Allowed-Module",
        "53c70b02-63dd-11ea-bc55-0242ac130003",
        "[Preview]: Configure allowed module authors for specified Azure Machine Learning computes",
        "enforceSetting",
        "AllowedModuleAuthors_EnforceSetting.json",
        None,
    ),
    LandingZonePolicy(
        "Deny-ML-Allowed-Python",
        "77eeea86-7e81-4a7d-9067-de844d096752",
        "[Preview]: Configure allowed Python packages for specified Azure Machine Learning computes",
        "enforceSetting",
        "AllowedPythonPackageChannels_EnforceSetting.json",
        None,
    ),
    LandingZonePolicy(
        "Deny-ML-Allowed-Registries",
        "5853517a-63de-11ea-bc55-0242ac130003",
        "[Preview]: Configure allowed registries for specified Azure Machine Learning computes",
        "enforceSetting",
        "AllowedACRs_EnforceSetting.json",
        None,
    ),
)


@dataclass(frozen=True)
class LandingZoneFinding:
    resource: str
    policy: LandingZonePolicy
    reason: str


def landing_zone_findings(registrations: list) -> list[LandingZoneFinding]:
    """Resource by resource (in registration order), what each policy of the initiative would do."""
    return [
        LandingZoneFinding(r.name, policy, reason)
        for r in registrations
        for policy in POLICIES
        if policy.finds and (reason := policy.finds(r, registrations))
    ]
