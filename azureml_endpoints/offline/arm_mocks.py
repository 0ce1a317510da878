"""Pulumi mocks that answer the way Azure Resource Manager does, and a recorder of what the program registers.

Each resource type's answer is a function here; which type gets which answer is its record in
azureml_endpoints/offline/resource_types.py, with its create time and preview line.

The mocks build ARM-format ids from the resource's real naming inputs, give identities principal and
client ids, return the `userAssignedIdentities` map Azure returns for an endpoint, and refuse what ARM
refuses (an unknown workspace, a user-assigned identity id that does not exist). Numbers come back as
the engine sends them (floats). Everything is derived from names, so two runs answer identically.

One `ArmMocks` is one fake Azure: evaluate several configs with the same one (evaluate(..., azure=...)) to
play successive `up`s. Every PUT is logged as sent (`puts`), after the engine's `ignoreChanges` (an ignored
path takes the value sent last time, or is left out when there was none: pulumi/pulumi
pkg/resource/deploy/step_generator.go), and an endpoint's traffic follows ARM's rules (online_endpoint below).
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"
TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
# Suffixes of the fake cloud the mocks answer for; the program must take every host name from Azure.
FAKE_STORAGE_SUFFIX = "core.example-cloud.test"
FAKE_INFERENCE_SUFFIX = "inference.ml.example-cloud.test"
FAKE_VAULT_SUFFIX = "vault.example-cloud.test"
FAKE_REGISTRY_SUFFIX = "azurecr.example-cloud.test"
FAKE_INSIGHTS_INGESTION = "https://westeurope-0.in.applicationinsights.example-cloud.test/"
CALLER_CLIENT_ID = "00000000-0000-4000-8000-0000000000c1"  # who runs `pulumi up` (getClientConfig)
CALLER_OBJECT_ID = "00000000-0000-4000-8000-0000000000c2"
_ID_NAMESPACE = uuid.UUID("0b9f3c1e-5a0b-4d7e-8f61-1c2d3e4f5a6b")


def fake_guid(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "|".join(parts)))


@dataclass
class FakeWorkspace:
    name: str
    resource_group: str
    location: str = "westeurope"
    has_registry: bool = True
    storage_account: str | None = None  # the ARM id a created workspace was given; derived from the name otherwise
    isolation_mode: str = "Disabled"  # its managed network

    @property
    def id(self) -> str:
        return rg_id(self.resource_group) + f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"

    @property
    def storage_account_name(self) -> str:
        if self.storage_account:
            return self.storage_account.rsplit("/", 1)[-1]
        return ("st" + self.name.replace("-", "").replace("_", "").lower())[:24]

    @property
    def storage_account_id(self) -> str:
        return (
            self.storage_account or rg_id(self.resource_group) + f"/providers/Microsoft.Storage/storageAccounts/{self.storage_account_name}"
        )

    @property
    def registry_id(self) -> str:
        name = ("cr" + self.name.replace("-", "").replace("_", "").lower())[:50]
        return rg_id(self.resource_group) + f"/providers/Microsoft.ContainerRegistry/registries/{name}"

    @property
    def workspace_guid(self) -> str:
        return fake_guid("workspace", self.id)


def rg_id(resource_group: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{resource_group}"


class ArmError(Exception):
    """What ARM would answer with an error status."""


class ArmResponseError(grpc.RpcError):
    """An invoke's error status as the engine hands it to the program: a gRPC error carrying the provider's
    message, which for azure-native is azcore's ResponseError text ("RESPONSE 404: 404 Not Found", "ERROR CODE: ...")."""

    def __init__(self, status: int, reason: str, code: str, message: str):
        super().__init__(message)
        self.text = f"RESPONSE {status}: {status} {reason}\nERROR CODE: {code}\n{message}"

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self.text


def not_found(what: str) -> ArmResponseError:
    return ArmResponseError(404, "Not Found", "ResourceNotFound", f"{what} was not found.")


@dataclass
class Registration:
    """One RegisterResource call as the engine receives it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict
    outputs: dict
    id: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    replace_on_changes: list[str]
    ignore_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    custom_timeouts: dict[str, str]
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: tuple[str, ...] = ()  # URNs this resource had under an earlier name (same type and parent)


class ArmMocks(pulumi.runtime.Mocks):
    def __init__(self, workspaces: list[FakeWorkspace] | None = None, registries: Iterable[str] = ()):
        """`registries`: ARM ids of Azure ML registries that exist outside the stack (its private endpoint rules'
        targets), as `workspaces` are the workspaces it looks up."""
        self.workspaces = {(w.resource_group.lower(), w.name.lower()): w for w in (workspaces or [])}
        self.by_id: dict[str, dict] = {}  # ARM id (lowercase) -> the resource as Azure holds it now
        for registry in registries:
            self.by_id[registry.lower()] = {"id": registry, "type": "Microsoft.MachineLearningServices/registries"}
        self.calls: list[tuple[str, dict]] = []
        self.puts: list[tuple[str, dict]] = []  # (ARM id, body) of every PUT, in order, as the engine sends it
        self.sent: dict[tuple[str, str], dict] = {}  # (type, name) -> inputs sent last, for ignoreChanges
        self.ignore_changes = threading.local()  # of the registration being answered (set by RecordingMonitor)
        # An existing workspace's default storage and registry exist with it (outbound rules and roles may name them).
        for w in self.workspaces.values():
            self.by_id[w.storage_account_id.lower()] = {
                "id": w.storage_account_id,
                "name": w.storage_account_name,
                "type": "Microsoft.Storage/storageAccounts",
            }
            if w.has_registry:
                self.by_id[w.registry_id.lower()] = {
                    "id": w.registry_id,
                    "name": w.registry_id.rsplit("/", 1)[-1],
                    "type": "Microsoft.ContainerRegistry/registries",
                }

    # --- resources -------------------------------------------------------------------------------
    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = copy.deepcopy(args.inputs)
        from azureml_endpoints.offline.resource_types import record  # the records name this module's answers

        answer = record(args.typ).answer if args.custom is not False else None
        if answer is None:  # components, dynamic and other non-Azure resources keep their inputs
            return f"{args.name}-id", inputs
        previous = self.sent.get((args.typ, args.name))
        if previous is not None:
            inputs = _ignoring(inputs, previous, getattr(self.ignore_changes, "paths", ()))
        self.sent[(args.typ, args.name)] = copy.deepcopy(inputs)
        resource_id, outputs = answer(self, inputs)
        self.puts.append((resource_id, copy.deepcopy(inputs)))
        state = {**inputs, **outputs, "id": resource_id}
        self.by_id[resource_id.lower()] = state
        return resource_id, state

    # --- invokes ---------------------------------------------------------------------------------
    def call(self, args: pulumi_mocks.MockCallArgs):
        self.calls.append((args.token, dict(args.args)))
        handler = _CALLS.get(args.token)
        if handler is None:
            raise ArmError(f"the ARM mocks do not know the function {args.token}")
        return handler(self, args.args)

    def workspace(self, resource_group: str, name: str) -> FakeWorkspace:
        found = self.workspaces.get((resource_group.lower(), name.lower()))
        if found is None:
            raise ArmError(
                f"ResourceNotFound: The Resource 'Microsoft.MachineLearningServices/workspaces/{name}' under "
                f"resource group '{resource_group}' was not found."
            )
        return found


def _ignoring(inputs: dict, previous: dict, paths) -> dict:
    """The engine's `ignoreChanges` on an update: each ignored path keeps the value sent last time, or is left
    out when none was sent (so a value the program never sent stays unsent)."""
    for path in paths:
        *parents, leaf = path.split(".")
        old, new = previous, inputs
        for part in parents:
            old = old.get(part) if isinstance(old, dict) else None
            new = new.setdefault(part, {}) if isinstance(new, dict) else None
        if not isinstance(new, dict):
            continue
        if isinstance(old, dict) and leaf in old:
            new[leaf] = copy.deepcopy(old[leaf])
        else:
            new.pop(leaf, None)
    return inputs


def _arm(resource_group: str, provider_path: str) -> str:
    return rg_id(resource_group) + "/providers/" + provider_path


def _workspace_path(i: dict) -> str:
    return f"Microsoft.MachineLearningServices/workspaces/{i['workspaceName']}"


def user_assigned_identity(m: ArmMocks, i: dict):
    rid = _arm(i["resourceGroupName"], f"Microsoft.ManagedIdentity/userAssignedIdentities/{i['resourceName']}")
    return rid, {
        "name": i["resourceName"],
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "principalId": fake_guid("principal", rid),
        "clientId": fake_guid("client", rid),
        "tenantId": TENANT_ID,
    }


def storage_account(m: ArmMocks, i: dict):
    name = i["accountName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.Storage/storageAccounts/{name}")
    return rid, {
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "provisioningState": "Succeeded",
        "primaryEndpoints": {
            "blob": f"https://{name}.blob.{FAKE_STORAGE_SUFFIX}/",
            "dfs": f"https://{name}.dfs.{FAKE_STORAGE_SUFFIX}/",
        },
    }


def blob_container(m: ArmMocks, i: dict):
    rid = _arm(
        i["resourceGroupName"],
        f"Microsoft.Storage/storageAccounts/{i['accountName']}/blobServices/default/containers/{i['containerName']}",
    )
    return rid, {"name": i["containerName"], "type": "Microsoft.Storage/storageAccounts/blobServices/containers"}


def blob(m: ArmMocks, i: dict):
    url = f"https://{i['accountName']}.blob.{FAKE_STORAGE_SUFFIX}/{i['containerName']}/{i['blobName']}"
    return url, {"name": i["blobName"], "url": url}


def role_assignment(m: ArmMocks, i: dict):
    rid = f"{i['scope']}/providers/Microsoft.Authorization/roleAssignments/{i['roleAssignmentName']}"
    return rid, {"name": i["roleAssignmentName"], "type": "Microsoft.Authorization/roleAssignments"}


def _endpoint_identity(m: ArmMocks, identity: dict, rid: str) -> dict:
    kind = identity.get("type")
    if kind == "SystemAssigned":
        return {"type": kind, "principalId": fake_guid("principal", rid), "tenantId": TENANT_ID}
    if kind == "UserAssigned":
        result = {}
        for uai_id in identity.get("userAssignedIdentities", []):
            uai = m.by_id.get(uai_id.lower())
            if uai is None:
                raise ArmError(f"BadRequest: user-assigned identity '{uai_id}' does not exist")
            result[uai_id] = {"principalId": uai["principalId"], "clientId": uai["clientId"]}
        return {"type": kind, "userAssignedIdentities": result}
    raise ArmError(f"BadRequest: identity type '{kind}' is not supported on endpoints")


def _deployments_of(m: ArmMocks, endpoint_id: str) -> set[str]:
    prefix = endpoint_id.lower() + "/deployments/"
    return {state["name"] for rid, state in m.by_id.items() if rid.startswith(prefix) and rid.count("/") == prefix.count("/")}


def _split(m: ArmMocks, endpoint_id: str, properties: dict) -> tuple[dict, dict]:
    """The split an endpoint PUT leaves: a PUT replaces the endpoint, and one without `traffic` sets every
    deployment to 0 % (microsoft/genaiops-promptflow-template#182), one without `mirrorTraffic` clears the mirror.
    ARM refuses a split naming a deployment that does not exist, or live traffic that does not sum to 100
    ("Percentage of traffic from endpoint to divert to each deployment. Traffic values need to sum to 100.")."""
    existing = _deployments_of(m, endpoint_id)
    traffic = properties.get("traffic")
    mirror = properties.get("mirrorTraffic") or {}
    if traffic is None:
        return {name: 0 for name in sorted(existing)}, mirror
    unknown = sorted(set(traffic) - existing | set(mirror) - existing)
    if unknown:
        raise ArmError(f"BadRequest: traffic names deployments that do not exist: {', '.join(unknown)}")
    if existing and sum(traffic.values()) not in (0, 100):
        raise ArmError(f"BadRequest: traffic values need to sum to 100, not {sum(traffic.values())}")
    return dict(traffic), dict(mirror)


def online_endpoint(m: ArmMocks, i: dict):
    name = i["endpointName"]
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/onlineEndpoints/{name}")
    ws = m.workspace(i["resourceGroupName"], i["workspaceName"])
    properties = dict(i["properties"])
    traffic, mirror = _split(m, rid, properties)
    properties.update(
        {
            "provisioningState": "Succeeded",
            "scoringUri": f"https://{name}.{ws.location}.{FAKE_INFERENCE_SUFFIX}/score",
            "swaggerUri": f"https://{name}.{ws.location}.{FAKE_INFERENCE_SUFFIX}/swagger.json",
            "traffic": traffic,
            "mirrorTraffic": mirror,
        }
    )
    return rid, {
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "identity": _endpoint_identity(m, i.get("identity") or {}, rid),
        "properties": properties,
    }


def batch_endpoint(m: ArmMocks, i: dict):
    name = i["endpointName"]
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/batchEndpoints/{name}")
    ws = m.workspace(i["resourceGroupName"], i["workspaceName"])
    identity = i.get("identity") or {}
    if identity.get("type") != "SystemAssigned":
        raise ArmError("BadRequest: batch endpoints support only a system-assigned identity")
    properties = {
        **i["properties"],
        "provisioningState": "Succeeded",
        "scoringUri": f"https://{name}.{ws.location}.{FAKE_INFERENCE_SUFFIX}/jobs",
        "defaults": {},
    }
    return rid, {
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
        "identity": _endpoint_identity(m, identity, rid),
        "properties": properties,
    }


def compute(m: ArmMocks, i: dict):
    name = i["computeName"]
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/computes/{name}")
    m.workspace(i["resourceGroupName"], i["workspaceName"])
    identity = i.get("identity") or {}
    if identity.get("type") not in ("SystemAssigned", "UserAssigned"):
        raise ArmError(f"BadRequest: a compute cluster has one system-assigned or user-assigned identity, not {identity.get('type')!r}")
    properties = {**i["properties"], "provisioningState": "Succeeded"}
    return rid, {
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "identity": _endpoint_identity(m, identity, rid),
        "properties": properties,
    }


def datastore(m: ArmMocks, i: dict):
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/datastores/{i['name']}")
    m.workspace(i["resourceGroupName"], i["workspaceName"])
    return rid, {"name": i["name"], "type": "Microsoft.MachineLearningServices/workspaces/datastores"}


def online_deployment(m: ArmMocks, i: dict):
    name = i["deploymentName"]
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/onlineEndpoints/{i['endpointName']}/deployments/{name}")
    properties = {**i["properties"], "provisioningState": "Succeeded"}
    return rid, {"name": name, "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", "properties": properties}


def batch_deployment(m: ArmMocks, i: dict):
    name = i["deploymentName"]
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/batchEndpoints/{i['endpointName']}/deployments/{name}")
    properties = {**i["properties"], "provisioningState": "Succeeded"}
    return rid, {"name": name, "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments", "properties": properties}


def asset_version(collection: str):
    def handler(m: ArmMocks, i: dict):
        version = str(i["version"])
        if collection == "models" and not (version.isdigit() and not version.startswith("0")):
            # Azure ML: a workspace model version must be a positive integer (Azure/azureml-examples#2725).
            raise ArmError(f"UserError: model version '{version}' is not a positive integer")
        rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/{collection}/{i['name']}/versions/{i['version']}")
        return rid, {"name": i["version"], "type": f"Microsoft.MachineLearningServices/workspaces/{collection}/versions"}

    return handler


def template_deployment(m: ArmMocks, i: dict):
    """An incremental deployment PUTs each resource of its template: an online endpoint's split follows ARM's rules."""
    for resource in i["properties"]["template"]["resources"]:
        if resource["type"] != "Microsoft.MachineLearningServices/workspaces/onlineEndpoints":
            continue
        workspace, endpoint = resource["name"].split("/")
        endpoint_id = _arm(i["resourceGroupName"], f"Microsoft.MachineLearningServices/workspaces/{workspace}/onlineEndpoints/{endpoint}")
        current = _existing(m, endpoint_id, "online endpoint")
        traffic, mirror = _split(m, endpoint_id, resource["properties"])
        current["properties"] = {**current["properties"], **resource["properties"], "traffic": traffic, "mirrorTraffic": mirror}
        m.puts.append((endpoint_id, copy.deepcopy(resource)))
    rid = _arm(i["resourceGroupName"], f"Microsoft.Resources/deployments/{i['deploymentName']}")
    properties = {**i["properties"], "provisioningState": "Succeeded"}
    return rid, {"name": i["deploymentName"], "type": "Microsoft.Resources/deployments", "properties": properties}


def resource_group(m: ArmMocks, i: dict):
    return rg_id(i["resourceGroupName"]), {"name": i["resourceGroupName"], "type": "Microsoft.Resources/resourceGroups"}


def key_vault(m: ArmMocks, i: dict):
    name = i["vaultName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.KeyVault/vaults/{name}")
    properties = {**i["properties"], "vaultUri": f"https://{name}.{FAKE_VAULT_SUFFIX}/", "provisioningState": "Succeeded"}
    return rid, {"name": name, "type": "Microsoft.KeyVault/vaults", "properties": properties}


def key_vault_key(m: ArmMocks, i: dict):
    rid = _arm(i["resourceGroupName"], f"Microsoft.KeyVault/vaults/{i['vaultName']}/keys/{i['keyName']}")
    return rid, {"name": i["keyName"], "keyUri": f"https://{i['vaultName']}.{FAKE_VAULT_SUFFIX}/keys/{i['keyName']}"}


def role_definition(m: ArmMocks, i: dict):
    rid = f"{i['scope']}/providers/Microsoft.Authorization/roleDefinitions/{i['roleDefinitionId']}"
    return rid, {"name": i["roleDefinitionId"], "type": "Microsoft.Authorization/roleDefinitions", "roleType": "CustomRole"}


# "Azure Policy exemption structure": a 1-64 character name without <>*%&:\\?.+/, an exemption category of Waiver
# or Mitigated, an assignment id, and an expiry in UTC ISO 8601.
_EXEMPTION_NAME = re.compile(r"[^<>*%&:\\?.+/\x00-\x1f]{1,64}")
_ASSIGNMENT_ID = re.compile(r".*/providers/Microsoft\.Authorization/policyAssignments/[^/]+", re.I)
_UTC_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def policy_exemption(m: ArmMocks, i: dict):
    name = i.get("policyExemptionName", "")
    if not _EXEMPTION_NAME.fullmatch(name) or name.endswith(" "):
        raise ArmError(f"InvalidPolicyExemptionName: '{name}'")
    if i.get("exemptionCategory") not in ("Waiver", "Mitigated"):
        raise ArmError(f"InvalidRequestContent: exemptionCategory '{i.get('exemptionCategory')}' is not Waiver or Mitigated")
    if not _ASSIGNMENT_ID.fullmatch(i.get("policyAssignmentId", "")):
        raise ArmError(f"InvalidPolicyAssignmentId: '{i.get('policyAssignmentId')}'")
    if "expiresOn" in i and not _UTC_ISO.fullmatch(i["expiresOn"]):
        raise ArmError(f"InvalidRequestContent: expiresOn '{i['expiresOn']}' is not a UTC ISO 8601 time")
    rid = f"{i['scope']}/providers/Microsoft.Authorization/policyExemptions/{name}"
    return rid, {"name": name, "type": "Microsoft.Authorization/policyExemptions"}


def entra_application(m: ArmMocks, i: dict):
    object_id = fake_guid("application", i["displayName"])
    return f"/applications/{object_id}", {"objectId": object_id, "clientId": fake_guid("application-client", i["displayName"])}


def entra_service_principal(m: ArmMocks, i: dict):
    object_id = fake_guid("service-principal", i["clientId"])
    return f"/servicePrincipals/{object_id}", {"objectId": object_id}


def federated_credential(m: ArmMocks, i: dict):
    credential = fake_guid("federated", i["applicationId"], i["subject"])
    return f"{i['applicationId']}/federatedIdentityCredential/{credential}", {"credentialId": credential}


def flexible_federated_credential(m: ArmMocks, i: dict):
    """Entra ("Flexible federated identity credentials", GitHub): `sub` must be matched, with `repository_id` or
    `repository_owner_id`; only `eq`/`matches` on `sub` and `job_workflow_ref`, `eq` on the two ids, joined by `and`."""
    expression = i["claimsMatchingExpression"]
    terms = [t.strip() for t in re.split(r"\s+and\s+", expression)]
    allowed = {"sub": ("eq", "matches"), "job_workflow_ref": ("eq", "matches"), "repository_id": ("eq",), "repository_owner_id": ("eq",)}
    claims = set()
    for term in terms:
        match = re.fullmatch(r"claims\['(\w+)'\] (\w+) '[^']*'", term)
        if match is None or match[2] not in allowed.get(match[1], ()):
            raise ArmError(f"BadRequest: unsupported claims matching expression term '{term}'")
        claims.add(match[1])
    if "sub" not in claims or not claims & {"repository_id", "repository_owner_id"}:
        raise ArmError("BadRequest: a GitHub flexible credential must match 'sub' and 'repository_id' or 'repository_owner_id'")
    credential = fake_guid("federated", i["applicationId"], expression)
    return f"{i['applicationId']}/federatedIdentityCredential/{credential}", {"credentialId": credential}


def entra_group(m: ArmMocks, i: dict):
    object_id = fake_guid("group", i["displayName"])
    return object_id, {"objectId": object_id, "securityEnabled": i.get("securityEnabled", False)}


def container_registry(m: ArmMocks, i: dict):
    name = i["registryName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.ContainerRegistry/registries/{name}")
    sku = (i.get("sku") or {}).get("name")
    if i.get("anonymousPullEnabled") and sku == "Basic":
        raise ArmError("BadRequest: anonymous pull is available on Standard and Premium registries only")
    return rid, {
        "name": name,
        "type": "Microsoft.ContainerRegistry/registries",
        "loginServer": f"{name.lower()}.{FAKE_REGISTRY_SUFFIX}",
        "provisioningState": "Succeeded",
        "adminUserEnabled": i.get("adminUserEnabled", False),
        "anonymousPullEnabled": i.get("anonymousPullEnabled", False),
    }


def log_analytics_workspace(m: ArmMocks, i: dict):
    name = i["workspaceName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.OperationalInsights/workspaces/{name}")
    return rid, {
        "name": name,
        "type": "Microsoft.OperationalInsights/workspaces",
        "customerId": fake_guid("log-analytics", rid),
        "provisioningState": "Succeeded",
    }


def application_insights(m: ArmMocks, i: dict):
    name = i["resourceName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.Insights/components/{name}")
    workspace = i.get("workspaceResourceId")
    if workspace is not None and workspace.lower() not in m.by_id:
        raise ArmError(f"BadRequest: Log Analytics workspace '{workspace}' does not exist")
    key = fake_guid("instrumentation-key", rid)
    return rid, {
        "name": name,
        "type": "microsoft.insights/components",
        "appId": fake_guid("app", rid),
        "instrumentationKey": key,
        "connectionString": f"InstrumentationKey={key};IngestionEndpoint={FAKE_INSIGHTS_INGESTION}",
        "provisioningState": "Succeeded",
    }


def ml_workspace(m: ArmMocks, i: dict):
    """A created workspace: ARM refuses dependencies or identities that do not exist and a primary identity
    that is not attached; the fake Azure then holds it, so endpoints and computes can be created in it."""
    name, group = i["workspaceName"], i["resourceGroupName"]
    rid = _arm(group, f"Microsoft.MachineLearningServices/workspaces/{name}")
    for key in ("storageAccount", "keyVault", "containerRegistry", "applicationInsights"):
        if i.get(key) is not None and i[key].lower() not in m.by_id:
            raise ArmError(f"BadRequest: {key} '{i[key]}' does not exist")
    identity = i.get("identity") or {"type": "SystemAssigned"}
    kind = identity.get("type")
    if kind not in ("SystemAssigned", "SystemAssigned,UserAssigned", "UserAssigned"):
        raise ArmError(f"BadRequest: identity type '{kind}' is not supported on workspaces")
    result = {"type": kind}
    if "SystemAssigned" in kind:
        result.update({"principalId": fake_guid("principal", rid), "tenantId": TENANT_ID})
    attached = {}
    for uai_id in identity.get("userAssignedIdentities") or []:
        uai = m.by_id.get(uai_id.lower())
        if uai is None:
            raise ArmError(f"BadRequest: user-assigned identity '{uai_id}' does not exist")
        attached[uai_id] = {"principalId": uai["principalId"], "clientId": uai["clientId"]}
    if "UserAssigned" in kind:
        if not attached:
            raise ArmError("BadRequest: a UserAssigned workspace identity needs userAssignedIdentities")
        result["userAssignedIdentities"] = attached
    primary = i.get("primaryUserAssignedIdentity")
    if primary is not None and primary not in attached:
        raise ArmError(f"BadRequest: primaryUserAssignedIdentity '{primary}' is not one of the workspace's identities")
    managed = i.get("managedNetwork") or {}
    isolation = managed.get("isolationMode", "Disabled")
    if managed.get("outboundRules") and isolation == "Disabled":
        raise ArmError("BadRequest: outbound rules need a managed network (isolationMode not Disabled)")
    if i.get("publicNetworkAccess") == "Disabled" and isolation != "Disabled":
        registry = m.by_id.get((i.get("containerRegistry") or "").lower()) or {}
        if (registry.get("sku") or {}).get("name") not in (None, "Premium"):
            raise ArmError("BadRequest: a workspace behind a managed network needs a Premium container registry for private endpoints")
    m.workspaces[(group.lower(), name.lower())] = FakeWorkspace(
        name=name,
        resource_group=group,
        location=i.get("location", "westeurope"),
        storage_account=i.get("storageAccount"),
        isolation_mode=isolation,
    )
    return rid, {
        "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "workspaceId": fake_guid("workspace", rid),
        "identity": result,
        "provisioningState": "Succeeded",
        "discoveryUrl": f"https://{i.get('location', 'westeurope')}.api.ml.example-cloud.test/discovery",
        "mlFlowTrackingUri": f"azureml://{i.get('location', 'westeurope')}.api.ml.example-cloud.test/mlflow/v1.0{rid}",
    }


def blob_service_properties(m: ArmMocks, i: dict):
    if i.get("blobServicesName", "default") != "default":
        raise ArmError("InvalidResourceName: the blob service of a storage account is named 'default'")
    rid = _arm(i["resourceGroupName"], f"Microsoft.Storage/storageAccounts/{i['accountName']}/blobServices/default")
    return rid, {"name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices"}


def resource_group_lock(m: ArmMocks, i: dict):
    if i["level"] not in ("CanNotDelete", "ReadOnly"):
        raise ArmError(f"LockLevelInvalid: a lock's level is CanNotDelete or ReadOnly, not {i['level']!r}")
    rid = _arm(i["resourceGroupName"], f"Microsoft.Authorization/locks/{i['lockName']}")
    return rid, {"name": i["lockName"], "type": "Microsoft.Authorization/locks"}


def managed_network_rule(m: ArmMocks, i: dict):
    """An outbound rule: the workspace has a managed network; FQDN rules only in AllowOnlyApprovedOutbound; a
    private endpoint rule targets a resource that exists, with a sub-resource that resource type offers."""
    ws = m.workspace(i["resourceGroupName"], i["workspaceName"])
    rule = i["properties"]
    if ws.isolation_mode == "Disabled":
        raise ArmError(f"BadRequest: workspace '{ws.name}' has no managed network (isolationMode Disabled)")
    if rule["type"] == "FQDN" and ws.isolation_mode != "AllowOnlyApprovedOutbound":
        raise ArmError("BadRequest: FQDN outbound rules need isolationMode AllowOnlyApprovedOutbound")
    if rule["type"] == "PrivateEndpoint":
        destination = rule["destination"]
        _existing(m, destination["serviceResourceId"], "private endpoint rule target")
        _sub_resource(destination["serviceResourceId"], destination["subresourceTarget"])
    rid = _arm(i["resourceGroupName"], f"{_workspace_path(i)}/outboundRules/{i['ruleName']}")
    return rid, {
        "name": i["ruleName"],
        "type": "Microsoft.MachineLearningServices/workspaces/outboundRules",
        "properties": {**rule, "status": "Active"},
    }


# "What is a private endpoint?" (Private-link resource) and "Azure Private Endpoint private DNS zone values": the
# group ids each target type offers.
_GROUP_IDS = {
    "microsoft.machinelearningservices/workspaces": ("amlworkspace",),
    "microsoft.machinelearningservices/registries": ("amlregistry",),
    "microsoft.storage/storageaccounts": ("blob", "queue", "table", "file", "dfs", "web"),
    "microsoft.keyvault/vaults": ("vault",),
    "microsoft.containerregistry/registries": ("registry",),
}


def _sub_resource(target_id: str, group: str) -> None:
    parts = target_id.strip("/").split("/")
    kind = f"{parts[5]}/{parts[6]}".lower() if len(parts) > 6 else ""
    if group not in _GROUP_IDS.get(kind, ()):
        raise ArmError(f"PrivateLinkServiceGroupIdNotSupported: '{group}' is not a sub-resource of {kind or target_id}")


def private_endpoint(m: ArmMocks, i: dict):
    subnet = (i.get("subnet") or {}).get("id", "")
    if "/subnets/" not in subnet:
        raise ArmError(f"InvalidSubnetId: '{subnet}' is not a subnet id")
    (connection,) = i["privateLinkServiceConnections"]
    _existing(m, connection["privateLinkServiceId"], "private link resource")
    (group,) = connection["groupIds"]
    _sub_resource(connection["privateLinkServiceId"], group)
    name = i["privateEndpointName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.Network/privateEndpoints/{name}")
    return rid, {"name": name, "type": "Microsoft.Network/privateEndpoints", "provisioningState": "Succeeded"}


def private_dns_zone_group(m: ArmMocks, i: dict):
    configs = i["privateDnsZoneConfigs"]
    if len(configs) > 5:
        raise ArmError("BadRequest: a private DNS zone group holds at most 5 zones")
    rid = _arm(
        i["resourceGroupName"],
        f"Microsoft.Network/privateEndpoints/{i['privateEndpointName']}/privateDnsZoneGroups/{i['privateDnsZoneGroupName']}",
    )
    return rid, {"name": i["privateDnsZoneGroupName"], "type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"}


def private_zone(m: ArmMocks, i: dict):
    if i.get("location") != "global":
        raise ArmError("BadRequest: private DNS zones are global (location 'global')")
    name = i["privateZoneName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.Network/privateDnsZones/{name}")
    return rid, {"name": name, "type": "Microsoft.Network/privateDnsZones"}


def virtual_network_link(m: ArmMocks, i: dict):
    zone = _arm(i["resourceGroupName"], f"Microsoft.Network/privateDnsZones/{i['privateZoneName']}")
    _existing(m, zone, "private DNS zone")
    rid = f"{zone}/virtualNetworkLinks/{i['virtualNetworkLinkName']}"
    return rid, {"name": i["virtualNetworkLinkName"], "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks"}


def _existing(m: ArmMocks, resource_id: str, what: str) -> dict:
    """ARM refuses a setting whose target does not exist; the mocks know every resource the program created, and
    a storage account's `blobServices/default`, which exists with the account."""
    found = m.by_id.get(resource_id.lower())
    account, _, service = resource_id.lower().rpartition("/blobservices/")
    if found is None and service == "default" and account in m.by_id:
        found = {"id": resource_id, "type": "Microsoft.Storage/storageAccounts/blobServices"}
    if found is None:
        raise ArmError(f"ResourceNotFound: {what} '{resource_id}' does not exist")
    return found


def autoscale_setting(m: ArmMocks, i: dict):
    target = _existing(m, i["targetResourceUri"], "autoscale target")
    if target.get("type") != "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments":
        raise ArmError(f"BadRequest: autoscale target '{i['targetResourceUri']}' is not an online deployment")
    for profile in i["profiles"]:
        capacity = {k: int(v) for k, v in profile["capacity"].items()}
        if not capacity["minimum"] <= capacity["default"] <= capacity["maximum"]:
            raise ArmError(f"BadRequest: autoscale capacity {profile['capacity']} must satisfy minimum <= default <= maximum")
        for rule in profile.get("rules", []):
            _existing(m, rule["metricTrigger"]["metricResourceUri"], "metric resource")
            action = rule["scaleAction"]
            if action["type"] == "ChangeCount" and int(action["value"]) > capacity["maximum"] - capacity["minimum"]:
                # Azure/bicep-types-az#1859: what Azure answers for a change count larger than the range.
                raise ArmError(
                    "InvalidActionValue: For ChangeCount scale action, please provide a scale value less than or equal "
                    "to the difference between the capacity maximum and the capacity minimum."
                )
    name = i["autoscaleSettingName"]
    rid = _arm(i["resourceGroupName"], f"microsoft.insights/autoscalesettings/{name}")
    return rid, {"name": name, "type": "Microsoft.Insights/autoscaleSettings"}


def diagnostic_setting(m: ArmMocks, i: dict):
    _existing(m, i["resourceUri"], "diagnostic settings target")
    if i.get("workspaceId") and not i["workspaceId"].lower().startswith("/subscriptions/"):
        raise ArmError(f"BadRequest: workspaceId '{i['workspaceId']}' is not an ARM id")
    rid = f"{i['resourceUri']}/providers/microsoft.insights/diagnosticSettings/{i['name']}"
    return rid, {"name": i["name"], "type": "Microsoft.Insights/diagnosticSettings"}


def scheduled_query_rule(m: ArmMocks, i: dict):
    for scope in i["scopes"]:  # a workspace of this stack, or an existing one named by id
        if not scope.lower().startswith("/subscriptions/"):
            raise ArmError(f"BadRequest: alert scope '{scope}' is not an ARM id")
    for group in (i.get("actions") or {}).get("actionGroups") or []:
        if not group.lower().startswith("/subscriptions/"):
            raise ArmError(f"BadRequest: action group '{group}' is not an ARM id")
    conditions = (i.get("criteria") or {}).get("allOf") or []
    if not conditions or not all(c.get("query") for c in conditions):
        raise ArmError("BadRequest: a log search alert needs criteria.allOf with a query")
    name = i["ruleName"]
    rid = _arm(i["resourceGroupName"], f"microsoft.insights/scheduledqueryrules/{name}")
    return rid, {"name": name, "type": "Microsoft.Insights/scheduledQueryRules"}


def action_group(m: ArmMocks, i: dict):
    name = i["actionGroupName"]
    if len(i["groupShortName"]) > 12:
        raise ArmError("BadRequest: groupShortName is at most 12 characters")
    rid = _arm(i["resourceGroupName"], f"microsoft.insights/actionGroups/{name}")
    return rid, {"name": name, "type": "Microsoft.Insights/ActionGroups"}


def metric_alert(m: ArmMocks, i: dict):
    for scope in i["scopes"]:
        _existing(m, scope, "alert scope")
    for action in i.get("actions") or []:
        _existing(m, action["actionGroupId"], "action group")
    name = i["ruleName"]
    rid = _arm(i["resourceGroupName"], f"Microsoft.Insights/metricAlerts/{name}")
    return rid, {"name": name, "type": "Microsoft.Insights/metricAlerts"}


def _get_workspace(m: ArmMocks, a: dict):
    ws = m.workspace(a["resourceGroupName"], a["workspaceName"])
    result = {
        "id": ws.id,
        "name": ws.name,
        "location": ws.location,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "storageAccount": ws.storage_account_id,
        "workspaceId": ws.workspace_guid,
        "identity": {"type": "SystemAssigned", "principalId": fake_guid("principal", ws.id), "tenantId": TENANT_ID},
        "managedNetwork": {"isolationMode": ws.isolation_mode},
    }
    if ws.has_registry:
        result["containerRegistry"] = ws.registry_id
    return result


def _get_datastore(m: ArmMocks, a: dict):
    ws = m.workspace(a["resourceGroupName"], a["workspaceName"])
    if a["name"] != "workspaceblobstore":
        raise ArmError(f"ResourceNotFound: datastore '{a['name']}'")
    return {
        "id": ws.id + "/datastores/workspaceblobstore",
        "name": "workspaceblobstore",
        "properties": {
            "datastoreType": "AzureBlob",
            "accountName": ws.storage_account_name,
            "containerName": f"azureml-blobstore-{ws.workspace_guid}",
            "endpoint": FAKE_STORAGE_SUFFIX,
            "protocol": "https",
            "isDefault": True,
        },
    }


def _get_online_endpoint(m: ArmMocks, a: dict):
    rid = _arm(a["resourceGroupName"], f"{_workspace_path(a)}/onlineEndpoints/{a['endpointName']}")
    found = m.by_id.get(rid.lower())
    if found is None:
        raise not_found(
            f"The Resource 'Microsoft.MachineLearningServices/workspaces/{a['workspaceName']}/onlineEndpoints/{a['endpointName']}'"
        )
    return copy.deepcopy(found)


def _get_online_deployment(m: ArmMocks, a: dict):
    endpoint = f"{_workspace_path(a)}/onlineEndpoints/{a['endpointName']}"
    found = m.by_id.get(_arm(a["resourceGroupName"], f"{endpoint}/deployments/{a['deploymentName']}").lower())
    if found is None:
        raise not_found(f"The Resource '{endpoint}/deployments/{a['deploymentName']}'")
    return copy.deepcopy(found)


def _list_online_endpoint_keys(m: ArmMocks, a: dict):
    seed = f"{a['resourceGroupName']}/{a['workspaceName']}/{a['endpointName']}"
    return {"primaryKey": "pk-" + fake_guid("key1", seed), "secondaryKey": "sk-" + fake_guid("key2", seed)}


def _client_config(m: ArmMocks, a: dict):
    return {"clientId": CALLER_CLIENT_ID, "objectId": CALLER_OBJECT_ID, "subscriptionId": SUBSCRIPTION_ID, "tenantId": TENANT_ID}


_CALLS = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azuread:index/getClientConfig:getClientConfig": _client_config,
    "azure-native:machinelearningservices:getWorkspace": _get_workspace,
    "azure-native:machinelearningservices:getDatastore": _get_datastore,
    "azure-native:machinelearningservices:listOnlineEndpointKeys": _list_online_endpoint_keys,
    "azure-native:machinelearningservices:getOnlineEndpoint": _get_online_endpoint,
    "azure-native:machinelearningservices:getOnlineDeployment": _get_online_deployment,
}


def plain(value: Any) -> Any:
    """Inputs as comparable data: assets become {"fileAsset": path} (they compare by identity otherwise)."""
    if isinstance(value, pulumi.FileAsset):
        return {"fileAsset": value.path}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, keeping every registration with its options and the stack's outputs."""

    def __init__(self, mocks: ArmMocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_urn: str | None = None

    def RegisterResource(self, request):
        self.mocks.ignore_changes.paths = tuple(request.ignoreChanges)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        registered = self.resources[response.urn]
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                inputs=plain(rpc.deserialize_properties(request.object)),
                outputs=plain(dict(registered.state)) if request.custom else {},
                id=response.id,
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=request.protect,
                replace_on_changes=list(request.replaceOnChanges),
                ignore_changes=list(request.ignoreChanges),
                delete_before_replace=request.deleteBeforeReplace,
                retain_on_delete=request.retainOnDelete,
                custom_timeouts={
                    "create": request.customTimeouts.create,
                    "update": request.customTimeouts.update,
                    "delete": request.customTimeouts.delete,
                },
                additional_secret_outputs=list(request.additionalSecretOutputs),
                # Name aliases only: the SDK adds one per older type token azure-native declares for the type.
                aliases=tuple(
                    a.urn or f"{response.urn.rsplit('::', 1)[0]}::{a.spec.name}" for a in request.aliases if a.urn or a.spec.name
                ),
            )
        )
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn == self.stack_urn:
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)
