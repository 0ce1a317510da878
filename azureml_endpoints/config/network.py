"""The private path: the workspace's managed network (outbound), private endpoints in a subnet the stack names
(inbound), their DNS, and the one-way isolation mode.

Azure's "Managed virtual network isolation" and "Network isolation with managed online endpoints": the
isolation mode only moves forward (Disabled -> AllowInternetOutbound -> AllowOnlyApprovedOutbound; "you can't
disable managed virtual network isolation after enabling it"); FQDN rules exist only in
AllowOnlyApprovedOutbound (they run on an Azure Firewall the workspace pays for); a storage account is
reached through a private endpoint rule, never an FQDN rule. The DNS zones a private endpoint needs depend on
the cloud (azureml_endpoints/azure/clouds.py).

A deployment may run a model or environment of an Azure ML registry (`azureml://registries/<name>/...`). The
URI names no subscription or group, so a registry the managed network reaches through a private endpoint
rule is named in `registries` with its ARM id ("Network isolation with Azure Machine Learning registries":
"create private endpoint for each registry"); the registries Azure runs for every tenant need none
(SHARED_REGISTRIES).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from azureml_endpoints.azure.clouds import cloud_of_zone, storage_suffixes
from azureml_endpoints.config.base import ConfigModel, quote, unique_ignoring_case
from azureml_endpoints.config.names import ComputeName, MlRegistryId, MlRegistryName, NameRule

SUBNET_ID_RULE = NameRule(
    re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+"),
    "a subnet's ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
)
SubnetId = Annotated[str, AfterValidator(SUBNET_ID_RULE.check), SUBNET_ID_RULE]
ZONE_ID_RULE = NameRule(
    re.compile(r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/privateDnsZones/[A-Za-z0-9.-]+"),
    "a private DNS zone's ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/privateDnsZones/<zone>",
)
PrivateDnsZoneId = Annotated[str, AfterValidator(ZONE_ID_RULE.check), ZONE_ID_RULE]
# Outbound rule names: the managed network's rule names in Azure's samples (letters, digits, '-', '_').
RULE_NAME_RULE = NameRule(re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"), "1-63 letters, digits, '-' or '_', starting alphanumeric")
RuleName = Annotated[str, AfterValidator(RULE_NAME_RULE.check), RULE_NAME_RULE]
_FQDN = re.compile(r"(\*\.)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
# "Managed virtual network isolation": a service tag rule's ports, e.g. "443" or "80,1024-65535".
_PORTS = re.compile(r"(\*|\d{1,5}(-\d{1,5})?)(,\d{1,5}(-\d{1,5})?)*")
# "Azure Private Endpoint private DNS zone values": the private link sub-resource of an Azure Machine Learning
# registry (Microsoft.MachineLearningServices/registries), as of a workspace (amlworkspace).
REGISTRY_GROUP = "amlregistry"
# The registries Azure runs for every tenant (lowercase name -> the hosts AllowOnlyApprovedOutbound needs FQDN
# rules to), which no private endpoint rule of a stack can reach: they are not in the workspace's tenant, and
# "Use Model Catalog collections with workspace managed virtual network" reaches them otherwise. `azureml` holds the
# collections curated by Azure Machine Learning (the managed network's service endpoint policy to Azure Machine
# Learning's storage and its default outbound to Microsoft Container Registry reach them "in an out-of-the-box
# manner"); `azureml-meta` the Meta collection ("no other user defined outbound rules required"); `HuggingFace` is a
# community registry whose weights "are downloaded directly from Hugging Face hub", so it needs FQDN rules to the
# hub, Docker Hub and their CDNs.
SHARED_REGISTRIES: dict[str, tuple[str, ...]] = {
    "azureml": (),
    "azureml-meta": (),
    "huggingface": ("docker.io", "huggingface.co", "production.cloudflare.docker.com", "cdn-lfs.huggingface.co", "cdn.auth0.com"),
}
# The private endpoint rules the stack derives for its storage ("Managed virtual network isolation"; the default
# storage's queue and table for batch endpoints, "Scenario: Use batch endpoints or ParallelRunStep").
DATA_STORAGE_RULE = "data-storage-blob"
DEFAULT_STORAGE_RULES = {group: f"default-storage-{group}" for group in ("queue", "table")}


class IsolationMode(str, Enum):
    DISABLED = "Disabled"
    ALLOW_INTERNET_OUTBOUND = "AllowInternetOutbound"
    ALLOW_ONLY_APPROVED_OUTBOUND = "AllowOnlyApprovedOutbound"


# The order Azure allows: a workspace only moves right.
ISOLATION_ORDER = (IsolationMode.DISABLED, IsolationMode.ALLOW_INTERNET_OUTBOUND, IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND)


def isolation_step(mode: str) -> int:
    return [m.value for m in ISOLATION_ORDER].index(mode)


class OutboundRuleType(str, Enum):
    SERVICE_TAG = "ServiceTag"
    FQDN = "FQDN"


class Protocol(str, Enum):
    TCP = "TCP"
    UDP = "UDP"
    ICMP = "ICMP"
    ANY = "*"


class FirewallSku(str, Enum):
    STANDARD = "Standard"
    BASIC = "Basic"


class DnsMode(str, Enum):
    CREATE = "CreateZones"  # the stack creates the zones, links them to the subnet's network, adds the zone groups
    EXISTING = "ExistingZones"  # the stack adds zone groups over zones that exist (zoneIds)
    AZURE_POLICY = "AzurePolicy"  # no zone group: the landing zone's DeployIfNotExists policy adds it


class OutboundRuleConfig(ConfigModel):
    name: RuleName = Field(description="Rule name in the workspace's managed network.")
    type: OutboundRuleType = Field(description="ServiceTag or FQDN (private endpoint rules are derived from the stack).")
    service_tag: str | None = Field(None, description="ServiceTag rules: the Azure service tag, e.g. AzureMonitor.")
    protocol: Protocol | None = Field(None, description="ServiceTag rules: TCP, UDP, ICMP or *.")
    port_ranges: str | None = Field(None, description="ServiceTag rules: ports, e.g. 443 or 80,1024-65535.")
    destination: str | None = Field(None, description="FQDN rules: the host name, e.g. pypi.org (ports 80 and 443).")

    @model_validator(mode="after")
    def _fields_match_type(self) -> OutboundRuleConfig:
        if self.type is OutboundRuleType.SERVICE_TAG:
            if self.destination is not None:
                raise ValueError("destination is for FQDN rules; a ServiceTag rule takes serviceTag, protocol and portRanges")
            if not (self.service_tag and self.protocol and self.port_ranges):
                raise ValueError("a ServiceTag rule needs serviceTag, protocol and portRanges")
            if not _PORTS.fullmatch(self.port_ranges):
                raise ValueError(f"portRanges {quote(self.port_ranges)} is not a list of ports or ranges such as 443 or 80,1024-65535")
            return self
        if self.service_tag or self.protocol or self.port_ranges:
            raise ValueError("serviceTag, protocol and portRanges are for ServiceTag rules; an FQDN rule takes destination")
        if not self.destination or not _FQDN.fullmatch(self.destination):
            raise ValueError(f"destination {quote(self.destination)} is not a host name such as pypi.org or *.example.com")
        host = self.destination.lower()
        if any(host.endswith("." + suffix) for suffix in storage_suffixes()):
            raise ValueError(
                f"destination {quote(self.destination)} is a storage account: Azure requires a private endpoint rule for "
                "storage, and the stack derives one for every account it reads"
            )
        return self


def registry_rule_name(registry: str) -> str:
    """The private endpoint rule to a listed registry: from its name alone, so adding one never renames another."""
    return f"registry-{registry.lower()}"


class RegistryConfig(ConfigModel):
    name: MlRegistryName = Field(description="The registry's name, as deployments name it in azureml://registries/<name>/...")
    resource_id: MlRegistryId = Field(
        description="Its ARM id; the managed network reaches it through a private endpoint rule (amlregistry) to this id."
    )

    @model_validator(mode="after")
    def _id_of_this_registry(self) -> RegistryConfig:
        last = self.resource_id.rsplit("/", 1)[-1]
        if last.casefold() != self.name.casefold():
            raise ValueError(f"resourceId is the id of registry {quote(last)}, not of {quote(self.name)} (ignoring case, as ARM does)")
        if self.name.casefold() in SHARED_REGISTRIES:
            raise ValueError(
                f"{quote(self.name)} is a registry Azure runs for every tenant: the managed network reaches it without a "
                "private endpoint rule, and none of the stack's could reach it (it is not in the workspace's tenant); remove it"
            )
        return self


def covers(destination: str, host: str) -> bool:
    """An FQDN rule's destination allows `host`: the same name, or a `*.` wildcard over it."""
    destination, host = destination.lower(), host.lower()
    return destination == host or (destination.startswith("*.") and host.endswith(destination[1:]))


class PrivateDnsConfig(ConfigModel):
    mode: DnsMode = Field(DnsMode.CREATE, description="CreateZones, ExistingZones (zoneIds) or AzurePolicy (no zone group).")
    zone_ids: list[PrivateDnsZoneId] = Field(
        default_factory=list, description="ExistingZones: the ARM ids of every zone the private endpoints need, in this cloud."
    )

    @model_validator(mode="after")
    def _ids_match_mode(self) -> PrivateDnsConfig:
        if self.mode is DnsMode.EXISTING and not self.zone_ids:
            raise ValueError("mode ExistingZones needs zoneIds")
        if self.mode is not DnsMode.EXISTING and self.zone_ids:
            raise ValueError(f"zoneIds apply only with mode ExistingZones, not {self.mode.value}")
        unique_ignoring_case([zone_name(z) for z in self.zone_ids], "each zone is listed once")
        unknown = [quote(zone_name(z)) for z in self.zone_ids if cloud_of_zone(zone_name(z)) is None]
        if unknown:
            raise ValueError(f"zoneIds name zones no private endpoint of the stack uses: {', '.join(unknown)}")
        return self


def zone_name(zone_id: str) -> str:
    return zone_id.rstrip("/").rsplit("/", 1)[-1]


class NetworkConfig(ConfigModel):
    """Present: the stack is private end to end. Absent: everything is reachable as each resource states."""

    isolation_mode: IsolationMode = Field(
        IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND,
        description="The workspace's managed network: AllowOnlyApprovedOutbound or AllowInternetOutbound (never backward).",
    )
    outbound_rules: list[OutboundRuleConfig] = Field(
        default_factory=list, description="User rules besides the private endpoint rules the stack derives (ServiceTag, FQDN)."
    )
    registries: list[RegistryConfig] = Field(
        default_factory=list,
        description="The Azure ML registries the deployments run models or environments of, each with its ARM id: one "
        "private endpoint rule to each (the registries Azure runs for every tenant, such as azureml, are not listed).",
    )
    firewall_sku: FirewallSku = Field(
        FirewallSku.STANDARD, description="The Azure Firewall FQDN rules run on (AllowOnlyApprovedOutbound with FQDN rules)."
    )
    private_endpoint_subnet_id: SubnetId = Field(description="Subnet (ARM id) of the private endpoints the stack creates.")
    dns: PrivateDnsConfig = Field(default_factory=PrivateDnsConfig, description="Private DNS for those endpoints.")
    image_build_compute: ComputeName | None = Field(
        None,
        description="Compute cluster a created workspace builds images on (a registry behind a network cannot build); "
        "one of the stack's batch endpoint clusters.",
    )

    @field_validator("isolation_mode")
    @classmethod
    def _isolated(cls, value: IsolationMode) -> IsolationMode:
        if value is IsolationMode.DISABLED:
            raise ValueError("a private stack needs AllowOnlyApprovedOutbound or AllowInternetOutbound; remove network to stay public")
        return value

    @field_validator("outbound_rules")
    @classmethod
    def _unique_rules(cls, value: list[OutboundRuleConfig]) -> list[OutboundRuleConfig]:
        unique_ignoring_case([r.name for r in value], "outbound rule names must be unique")
        return value

    @field_validator("registries")
    @classmethod
    def _unique_registries(cls, value: list[RegistryConfig]) -> list[RegistryConfig]:
        unique_ignoring_case([r.name for r in value], "each registry is listed once")
        return value

    @model_validator(mode="after")
    def _user_rules_keep_off_derived_names(self) -> NetworkConfig:
        derived = {DATA_STORAGE_RULE, *DEFAULT_STORAGE_RULES.values(), *(registry_rule_name(r.name) for r in self.registries)}
        taken = [r.name for r in self.outbound_rules if r.name.lower() in derived]
        if taken:
            raise ValueError(f"outboundRules: {', '.join(taken)} is the name of a rule the stack derives; name the rule otherwise")
        return self

    @model_validator(mode="after")
    def _fqdn_needs_approved_outbound(self) -> NetworkConfig:
        fqdn = [r.name for r in self.outbound_rules if r.type is OutboundRuleType.FQDN]
        if fqdn and self.isolation_mode is IsolationMode.ALLOW_INTERNET_OUTBOUND:
            raise ValueError(
                f"outboundRules: FQDN rules ({', '.join(fqdn)}) exist only in AllowOnlyApprovedOutbound; "
                "AllowInternetOutbound already allows every host"
            )
        return self

    @property
    def virtual_network_id(self) -> str:
        """The network the subnet belongs to (the zones are linked to it)."""
        return self.private_endpoint_subnet_id.rsplit("/subnets/", 1)[0]

    @property
    def has_fqdn_rules(self) -> bool:
        return any(r.type is OutboundRuleType.FQDN for r in self.outbound_rules)


def zone_problems(network: NetworkConfig, cloud: str, groups: list[str]) -> list[str]:
    """ExistingZones: every zone id is a zone of the cloud the provider deploys to, and every zone the stack's
    private endpoints (of `groups`) need there is given. Empty when right."""
    from azureml_endpoints.azure.clouds import zone_names

    if network.dns.mode is not DnsMode.EXISTING:
        return []
    given = {zone_name(z).lower() for z in network.dns.zone_ids}
    problems = [
        f"{quote(zone_name(z))} is a zone of the {cloud_of_zone(zone_name(z))} cloud, and the provider deploys to {cloud}"
        for z in network.dns.zone_ids
        if cloud_of_zone(zone_name(z)) != cloud
    ]
    missing = [zone for group in groups for zone in zone_names(cloud, group) if zone.lower() not in given]
    if missing:
        problems.append(f"the stack's private endpoints also need {', '.join(missing)} (in the {cloud} cloud)")
    return problems
