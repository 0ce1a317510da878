"""The workspace managed network's outbound rules, one ARM resource each (`workspaces/outboundRules`).

Azure's "Managed virtual network isolation": a private endpoint rule makes the managed network reach a
resource (a storage account's `blob`, the default storage's `queue` and `table` for batch endpoints, an Azure ML
registry's `amlregistry`) through a private endpoint Azure creates and manages; ServiceTag and FQDN rules open
named destinations. The rules are resources of their own, after the workspace and the accounts they name, so
each targets the real id of a resource this stack created or looked up (a registry: the id its config names);
the deployments wait for them (`rules`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from azureml_endpoints.config.network import NetworkConfig, OutboundRuleConfig, OutboundRuleType
from components.workspace.info import WorkspaceInfo


@dataclass(frozen=True)
class PrivateEndpointRule:
    """A derived rule: a private endpoint from the managed network to `service_resource_id`'s `subresource`."""

    name: str
    service_resource_id: pulumi.Input[str]
    subresource: str


def user_rule(rule: OutboundRuleConfig) -> ml.ServiceTagOutboundRuleArgs | ml.FqdnOutboundRuleArgs:
    if rule.type is OutboundRuleType.FQDN:
        return ml.FqdnOutboundRuleArgs(type="FQDN", category="UserDefined", destination=rule.destination)
    return ml.ServiceTagOutboundRuleArgs(
        type="ServiceTag",
        category="UserDefined",
        destination=ml.ServiceTagDestinationArgs(service_tag=rule.service_tag, protocol=rule.protocol.value, port_ranges=rule.port_ranges),
    )


def private_endpoint_rule(rule: PrivateEndpointRule) -> ml.PrivateEndpointOutboundRuleArgs:
    return ml.PrivateEndpointOutboundRuleArgs(
        type="PrivateEndpoint",
        category="UserDefined",
        destination=ml.PrivateEndpointDestinationArgs(
            service_resource_id=rule.service_resource_id, subresource_target=rule.subresource, spark_enabled=False
        ),
    )


@dataclass(frozen=True)
class ManagedNetworkRulesArgs:
    settings: NetworkConfig
    workspace: WorkspaceInfo
    private_endpoints: tuple[PrivateEndpointRule, ...]


class ManagedNetworkRules(pulumi.ComponentResource):
    def __init__(self, name: str, args: ManagedNetworkRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:machinelearningservices:ManagedNetworkRules", name, {}, opts)
        ws = args.workspace
        bodies = [(r.name, private_endpoint_rule(r)) for r in args.private_endpoints]
        bodies += [(r.name, user_rule(r)) for r in args.settings.outbound_rules]
        self.rules = [
            ml.ManagedNetworkSettingsRule(
                f"{name}-{rule_name}",
                ml.ManagedNetworkSettingsRuleArgs(
                    rule_name=rule_name, resource_group_name=ws.resource_group, workspace_name=ws.name, properties=body
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for rule_name, body in bodies
        ]
        self.register_outputs({"ruleIds": [r.id for r in self.rules]})
