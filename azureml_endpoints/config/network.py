"""The private path: the workspace's managed network (outbound), private endpoints in a subnet the stack names
(inbound), their DNS, and the one-way isolation mode.

Azure's "Managed virtual network isolation" and "Network isolation with managed online endpoints": the
isolation mode only moves forward (Disabled -> AllowInternetOutbound -> AllowOnlyApprovedOutbound; "you can't
disable managed virtual network isolation after enabling it"); FQDN rules exist only in
AllowOnlyApprovedOutbound (they run on an Azure Firewall the workspace pays for); a storage account is
reached through a private endpoint rule, never an FQDN rule. The DNS zones a private endpoint needs depend on
the cloud (azureml_endpoints/azure/clouds.py).
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from azureml_endpoints.azure.clouds import cloud_of_zone, storage_suffixes
from azureml_endpoints.config.base import ConfigModel, quote, unique_ignoring_case
from azureml_endpoints.config.names import ComputeName, NameRule

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
