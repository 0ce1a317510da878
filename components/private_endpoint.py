"""Inbound private access: private DNS zones for the stack's private endpoints, and the endpoints themselves.

Azure's "Configure a private endpoint for an Azure Machine Learning workspace" and "Azure Private Endpoint
private DNS zone values": a workspace endpoint (group `amlworkspace`) needs two zones, both in one zone
group; storage (`blob`) and Key Vault (`vault`) one each; the zone names depend on the cloud. Three DNS modes
(docs/private-networking.md#dns-modes): the stack creates and links the zones, or uses existing zones by id,
or adds no zone group because the landing zone's DeployIfNotExists policy adds it (a stack-made group would
fight the policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from azureml_endpoints.azure.clouds import all_zone_names, zone_names
from azureml_endpoints.config.network import DnsMode, NetworkConfig, zone_name

# Private DNS zones are global resources ("Azure Private DNS zone" REST: location "global").
GLOBAL = "global"


@dataclass(frozen=True)
class PrivateDnsArgs:
    settings: NetworkConfig
    cloud: str
    groups: tuple[str, ...]  # the groups the stack's endpoints use
    resource_group: str
    tags: dict[str, str]


class PrivateDns(pulumi.ComponentResource):
    """zone name -> zone id for every zone the stack's endpoints need, or None (AzurePolicy: no zone group)."""

    def __init__(self, name: str, args: PrivateDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:network:PrivateDns", name, {}, opts)
        needed = [zone for group in args.groups for zone in zone_names(args.cloud, group)]
        mode = args.settings.dns.mode
        self.zone_ids: dict[str, pulumi.Input[str]] | None = None
        if mode is DnsMode.EXISTING:
            given = {zone_name(z).lower(): z for z in args.settings.dns.zone_ids}
            self.zone_ids = {zone: given[zone.lower()] for zone in needed}
        elif mode is DnsMode.CREATE:
            self.zone_ids = {}
            for zone in needed:
                label = zone.replace(".", "-")
                created = privatedns.PrivateZone(
                    f"{name}-{label}",
                    privatedns.PrivateZoneArgs(
                        private_zone_name=zone, resource_group_name=args.resource_group, location=GLOBAL, tags=args.tags
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                privatedns.VirtualNetworkLink(
                    f"{name}-{label}-link",
                    privatedns.VirtualNetworkLinkArgs(
                        private_zone_name=created.name,
                        resource_group_name=args.resource_group,
                        virtual_network_link_name=args.settings.virtual_network_id.rsplit("/", 1)[-1],
                        location=GLOBAL,
                        virtual_network=privatedns.SubResourceArgs(id=args.settings.virtual_network_id),
                        # Resolution only: the endpoints' records come from the zone groups.
                        registration_enabled=False,
                        tags=args.tags,
                    ),
                    pulumi.ResourceOptions(parent=self),
                )
                self.zone_ids[zone] = created.id
        self.register_outputs({"zoneIds": self.zone_ids or {}})


@dataclass(frozen=True)
class PrivateEndpointArgs:
    target_id: pulumi.Input[str]  # the resource reached privately
    group: str  # amlworkspace, blob or vault
    endpoint_name: str
    subnet_id: str
    resource_group: str
    location: str
    cloud: str
    zone_ids: dict[str, pulumi.Input[str]] | None  # None: the zone group is left to Azure Policy
    tags: dict[str, str]


class PrivateEndpoint(pulumi.ComponentResource):
    """One private endpoint (auto-approved: the deployer owns the target) and one zone group with all its zones."""

    def __init__(self, name: str, args: PrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:network:PrivateEndpoint", name, {}, opts)
        endpoint = network.PrivateEndpoint(
            f"{name}-endpoint",
            network.PrivateEndpointArgs(
                private_endpoint_name=args.endpoint_name,
                resource_group_name=args.resource_group,
                location=args.location,
                subnet=network.SubnetArgs(id=args.subnet_id),
                private_link_service_connections=[
                    network.PrivateLinkServiceConnectionArgs(
                        name=args.endpoint_name, private_link_service_id=args.target_id, group_ids=[args.group]
                    )
                ],
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.zone_group = None
        if args.zone_ids is not None:
            zones = [z for z, g in all_zone_names(args.cloud).items() if g == args.group]
            self.zone_group = network.PrivateDnsZoneGroup(
                f"{name}-zones",
                network.PrivateDnsZoneGroupArgs(
                    private_dns_zone_group_name="default",
                    private_endpoint_name=endpoint.name,
                    resource_group_name=args.resource_group,
                    private_dns_zone_configs=[
                        network.PrivateDnsZoneConfigArgs(name=zone.replace(".", "-"), private_dns_zone_id=args.zone_ids[zone])
                        for zone in zones
                    ],
                ),
                pulumi.ResourceOptions(parent=self),
            )
        self.endpoint_id = endpoint.id
        self.register_outputs({"privateEndpointId": endpoint.id})
