"""The private path (Azure's "Managed virtual network isolation" and "Network isolation with managed online
endpoints"): a private stack keeps every endpoint, workspace, registry, vault and storage account off the
internet; the managed network's isolation mode only moves forward; a registry that is to be private is
Premium; FQDN rules are for hosts, not storage, and only in AllowOnlyApprovedOutbound; a private endpoint rule
targets an ARM id with a sub-resource its type offers (a storage account's blob, an Azure ML registry's
amlregistry); private endpoints sit in a subnet; private DNS zones belong to one cloud.

A policy sees a resource's new inputs only, so the isolation mode each workspace has in Azure is handed to
the pack as configuration, as the identities are (azureml_endpoints/cli/baseline.py).
"""

import json
import re
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from guardrails.common import (
    KEY_VAULT,
    ONLINE_ENDPOINT,
    REGISTRY,
    STORAGE_ACCOUNT,
    UNKNOWN,
    WORKSPACE,
    arm_type,
    plain,
    read,
    total,
)

OUTBOUND_RULE = "azure-native:machinelearningservices:ManagedNetworkSettingsRule"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
PRIVATE_DNS_ZONE = "azure-native:privatedns:PrivateZone"
PRIVATE_DNS_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"

# "Managed virtual network isolation": Disabled -> AllowInternetOutbound -> AllowOnlyApprovedOutbound, never back
# ("you can't disable managed virtual network isolation after enabling it").
ISOLATION_ORDER = ("Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound")
# "Azure Container Registry service tiers": only Premium has private endpoints and network rules.
REGISTRY_SKUS_WITHOUT_PRIVATE_ACCESS = ("Basic", "Standard")
# "Azure Private Endpoint private DNS zone values" (Azure Machine Learning, Storage blob, Key Vault rows) and each
# cloud's storage suffix: a copy of the program's table (azureml_endpoints/azure/private_dns_zones.json), which a
# test keeps equal; the pack runs on its own.
_TABLE = {k: v for k, v in json.loads((Path(__file__).parent / "private_dns_zones.json").read_text()).items() if not k.startswith("_")}
ZONES_BY_CLOUD = {cloud: tuple(z for group in ("amlworkspace", "blob", "vault") for z in entry[group]) for cloud, entry in _TABLE.items()}
STORAGE_SUFFIXES = {cloud: entry["storageSuffix"] for cloud, entry in _TABLE.items()}
CLOUD_OF_ZONE = {zone: cloud for cloud, zones in ZONES_BY_CLOUD.items() for zone in zones}

# "Azure Private Endpoint private DNS zone values": the sub-resources a private endpoint reaches on each type the
# program's outbound rules target (others are not judged: the managed network takes many more).
PRIVATE_LINK_GROUPS = {
    "microsoft.storage/storageaccounts": tuple(
        f"{group}{suffix}" for group in ("blob", "queue", "table", "file", "web", "dfs") for suffix in ("", "_secondary")
    ),
    "microsoft.machinelearningservices/workspaces": ("amlworkspace",),
    "microsoft.machinelearningservices/registries": ("amlregistry",),
    "microsoft.keyvault/vaults": ("vault",),
    "microsoft.containerregistry/registries": ("registry",),
}
_RESOURCE_ID = re.compile(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+(/[^/]+/[^/]+)+", re.IGNORECASE)

# Where each kind states its public network access.
PUBLIC_ACCESS_PATH = {
    ONLINE_ENDPOINT: ("properties", "publicNetworkAccess"),
    WORKSPACE: ("publicNetworkAccess",),
    REGISTRY: ("publicNetworkAccess",),
    STORAGE_ACCOUNT: ("publicNetworkAccess",),
    KEY_VAULT: ("properties", "publicNetworkAccess"),
}
KIND_NAMES = {
    ONLINE_ENDPOINT: "Online endpoint",
    WORKSPACE: "Workspace",
    REGISTRY: "Container registry",
    STORAGE_ACCOUNT: "Storage account",
    KEY_VAULT: "Key Vault",
}


def _isolation_mode(props):
    """The workspace's declared isolation mode: Disabled without a managed network (Azure's default)."""
    mode = read(props, "managedNetwork", "isolationMode")
    return mode if mode is UNKNOWN or isinstance(mode, str) else ("Disabled" if mode is None else mode)


def _workspace_key(props) -> str | None:
    parts = [read(props, "resourceGroupName"), read(props, "workspaceName")]
    return "/".join(parts).lower() if all(isinstance(p, str) for p in parts) else None


def _declares_private(resource) -> bool:
    """A private endpoint, an outbound rule or an isolated workspace: the stack says it is private."""
    if resource.resource_type in (PRIVATE_ENDPOINT, OUTBOUND_RULE):
        return True
    return resource.resource_type == WORKSPACE and _isolation_mode(resource.props) not in ("Disabled", UNKNOWN)


@total
def everything_private(args: StackValidationArgs, report_violation: ReportViolation):
    """Where the stack's policy config requires it (`required`) or the stack declares a private path, nothing it
    creates answers on the internet."""
    required = (args.get_config() or {}).get("required") is True
    if not required and not any(_declares_private(r) for r in args.resources):
        return
    why = "this stack's policy config requires private networking" if required else "this stack declares a private network"
    for resource in args.resources:
        path = PUBLIC_ACCESS_PATH.get(resource.resource_type)
        if path is None:
            continue
        stated = read(resource.props, *path)
        if stated is not UNKNOWN and stated != "Disabled":
            report_violation(
                f"{KIND_NAMES[resource.resource_type]} {resource.name} has {'.'.join(path)} {stated or 'unset (Enabled)'} and "
                f"{why}: set Disabled and reach it through a private endpoint.",
                resource.urn,
            )


@total
def isolation_only_moves_forward(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != WORKSPACE:
        return
    key = _workspace_key(args.props)
    known = (args.get_config() or {}).get("workspaces")
    if key is None or not isinstance(known, dict):
        return
    was, now = plain(known.get(key)), _isolation_mode(args.props)
    if was is None or now is UNKNOWN:
        return
    if was not in ISOLATION_ORDER:
        report_violation(f"The isolation baseline of {key} is {was!r}, not one of {', '.join(ISOLATION_ORDER)}; rebuild it.")
    elif now not in ISOLATION_ORDER:
        report_violation(f"Workspace {key}: managedNetwork.isolationMode {now!r} is not one of {', '.join(ISOLATION_ORDER)}.")
    elif ISOLATION_ORDER.index(now) < ISOLATION_ORDER.index(was):
        report_violation(
            f"Workspace {key} has managed network isolation {was} in Azure and the stack declares {now}: the mode only "
            f"moves forward ({' -> '.join(ISOLATION_ORDER)}); keep {was} or a later mode."
        )


@total
def registry_sku_honours_private_access(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != REGISTRY or read(args.props, "publicNetworkAccess") != "Disabled":
        return
    sku = read(args.props, "sku", "name")
    if sku in REGISTRY_SKUS_WITHOUT_PRIVATE_ACCESS:
        report_violation(
            f"publicNetworkAccess is Disabled on a {sku} registry: only Premium has private endpoints and network "
            "rules, so nothing could pull from it. Use sku Premium."
        )


def _fqdn_destination(props):
    if read(props, "properties", "type") != "FQDN":
        return None
    destination = read(props, "properties", "destination")
    return destination if isinstance(destination, str) else None


@total
def fqdn_rule_not_storage(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != OUTBOUND_RULE:
        return
    host = (_fqdn_destination(args.props) or "").lower().rstrip(".")
    if any(host.endswith("." + suffix) for suffix in STORAGE_SUFFIXES.values()):
        report_violation(
            f"FQDN rule to {host}, a storage account: Azure requires a private endpoint rule (subresourceTarget blob, "
            "queue, table...) for storage, not an FQDN rule."
        )


@total
def fqdn_rules_need_approved_outbound(args: StackValidationArgs, report_violation: ReportViolation):
    modes = {
        _workspace_key(r.props): _isolation_mode(r.props)
        for r in args.resources
        if r.resource_type == WORKSPACE and _workspace_key(r.props)
    }
    for rule in (r for r in args.resources if r.resource_type == OUTBOUND_RULE):
        if _fqdn_destination(rule.props) is None:
            continue
        mode = modes.get(_workspace_key(rule.props))
        if mode in ("Disabled", "AllowInternetOutbound"):
            report_violation(
                f"FQDN rule {rule.name} is for a workspace in {mode}: FQDN rules exist only in AllowOnlyApprovedOutbound "
                "(AllowInternetOutbound already allows every host; Disabled has no managed network).",
                rule.urn,
            )


@total
def private_endpoint_rule_target(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != OUTBOUND_RULE or read(args.props, "properties", "type") != "PrivateEndpoint":
        return
    target = read(args.props, "properties", "destination", "serviceResourceId")
    group = read(args.props, "properties", "destination", "subresourceTarget")
    if target is UNKNOWN or group is UNKNOWN:
        return
    if not isinstance(target, str) or not _RESOURCE_ID.fullmatch(target):
        report_violation(
            f"Private endpoint rule to {target!r}: serviceResourceId is not a resource's ARM id "
            "(/subscriptions/<guid>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>)."
        )
        return
    kind = arm_type(target)
    groups = PRIVATE_LINK_GROUPS.get(kind.lower())
    if groups is not None and (not isinstance(group, str) or group.lower() not in groups):
        report_violation(
            f"Private endpoint rule to {kind} {target.rsplit('/', 1)[-1]} with subresourceTarget {group!r}: "
            f"a private endpoint reaches a {kind} as {', '.join(groups)}."
        )


@total
def private_endpoint_in_subnet(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != PRIVATE_ENDPOINT:
        return
    subnet = read(args.props, "subnet", "id")
    if subnet is UNKNOWN:
        return
    if not subnet:
        report_violation("Private endpoint has no subnet.id: name the subnet it is placed in.")
    elif arm_type(subnet) != SUBNET_TYPE:
        report_violation(f"subnet.id {subnet!r} is not a subnet's ARM id (.../virtualNetworks/<vnet>/subnets/<subnet>).")


def _zones(resource) -> list[str]:
    """The private DNS zones a resource creates or names."""
    if resource.resource_type == PRIVATE_DNS_ZONE:
        name = read(resource.props, "privateZoneName")
        return [name.lower()] if isinstance(name, str) else []
    if resource.resource_type != PRIVATE_DNS_ZONE_GROUP:
        return []
    configs = plain(read(resource.props, "privateDnsZoneConfigs", default=[]))
    zone_ids = [c.get("privateDnsZoneId") for c in configs if isinstance(c, dict)] if isinstance(configs, list) else []
    return [z.rstrip("/").rsplit("/", 1)[-1].lower() for z in zone_ids if isinstance(z, str)]


@total
def dns_zones_of_one_cloud(args: StackValidationArgs, report_violation: ReportViolation):
    """A stack deploys to one cloud; a privatelink zone of another resolves nothing there."""
    named = [(r, [(z, CLOUD_OF_ZONE.get(z)) for z in _zones(r)]) for r in args.resources]
    clouds = sorted({cloud for _, zones in named for _, cloud in zones if cloud})
    if len(clouds) < 2:
        return
    for resource, zones in named:
        if zones:
            listed = ", ".join(f"{z} ({c})" for z, c in zones if c)
            report_violation(
                f"The stack's private DNS zones belong to {len(clouds)} clouds ({', '.join(clouds)}); {resource.name} names "
                f"{listed}. Use the zones of the cloud the provider deploys to.",
                resource.urn,
            )


private_network_access = StackValidationPolicy(
    name="private-network-access",
    description="In a private stack (or where required) online endpoints, workspaces, registries, vaults and storage have publicNetworkAccess Disabled.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=everything_private,
    config_schema=PolicyConfigSchema(properties={"required": {"type": "boolean", "default": False}}),
)
workspace_isolation_baseline = ResourceValidationPolicy(
    name="workspace-isolation-baseline",
    description="A workspace's managed network isolation only moves forward: Disabled -> AllowInternetOutbound -> AllowOnlyApprovedOutbound.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=isolation_only_moves_forward,
    config_schema=PolicyConfigSchema(
        properties={
            "workspaces": {
                "type": "object",
                "default": {},
                "description": "resourceGroup/workspace (lowercase) -> the isolation mode it has in Azure",
            }
        }
    ),
)
registry_sku_private_access = ResourceValidationPolicy(
    name="registry-sku-private-access",
    description="A container registry with publicNetworkAccess Disabled is Premium (Basic and Standard cannot honour it).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=registry_sku_honours_private_access,
)
outbound_fqdn_not_storage = ResourceValidationPolicy(
    name="outbound-fqdn-not-storage",
    description="Managed network FQDN rules never target a storage account (storage takes a private endpoint rule).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=fqdn_rule_not_storage,
)
outbound_fqdn_approved_only = StackValidationPolicy(
    name="outbound-fqdn-approved-outbound-only",
    description="Managed network FQDN rules belong to workspaces in AllowOnlyApprovedOutbound.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=fqdn_rules_need_approved_outbound,
)
outbound_private_endpoint_target = ResourceValidationPolicy(
    name="outbound-private-endpoint-target",
    description="Managed network private endpoint rules target an ARM id, with a sub-resource its type offers (blob, amlregistry...).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=private_endpoint_rule_target,
)
private_endpoint_subnet = ResourceValidationPolicy(
    name="private-endpoint-subnet",
    description="Private endpoints name the subnet they sit in by its ARM id.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=private_endpoint_in_subnet,
)
private_dns_zones_one_cloud = StackValidationPolicy(
    name="private-dns-zones-one-cloud",
    description="The private DNS zones a stack creates or names belong to one Azure cloud.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=dns_zones_of_one_cloud,
)

POLICIES = [
    private_network_access,
    workspace_isolation_baseline,
    registry_sku_private_access,
    outbound_fqdn_not_storage,
    outbound_fqdn_approved_only,
    outbound_private_endpoint_target,
    private_endpoint_subnet,
    private_dns_zones_one_cloud,
]
