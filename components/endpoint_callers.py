"""Who may score an Entra-token online endpoint: groups with the invoker role at the endpoint's scope.

The invoker role carries only `onlineEndpoints/score/action`; bootstrap/ defines it once per subscription.
Groups are named by object id, or created here (then the deploying identity needs Graph rights to create
groups; naming existing groups needs none).
"""

from dataclasses import dataclass

import pulumi

from azureml_endpoints.azure.roles import INVOKER_ROLE
from azureml_endpoints.config.online import CallersConfig
from components.role_assignments import RoleAssignments, RoleAssignmentsArgs, RoleGrant


@dataclass(frozen=True)
class EndpointCallersArgs:
    callers: CallersConfig
    endpoint_id: pulumi.Input[str]
    endpoint_name: str
    subscription_id: str


class EndpointCallers(pulumi.ComponentResource):
    def __init__(self, name: str, args: EndpointCallersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:authorization:EndpointCallers", name, {}, opts)
        groups: list[tuple[str, pulumi.Input[str]]] = [(object_id.lower(), object_id) for object_id in args.callers.group_object_ids]
        groups += [
            (f"created-{index}", _security_group(f"{name}-group-{index}", display_name, args.endpoint_name, self))
            for index, display_name in enumerate(args.callers.groups)
        ]
        self.assignments = [
            RoleAssignments(
                f"{name}-{label}",
                RoleAssignmentsArgs(
                    subscription_id=args.subscription_id,
                    principal_id=object_id,
                    principal_type="Group",
                    grants=(RoleGrant(INVOKER_ROLE, args.endpoint_id, "invoker"),),
                    propagation_seconds=None,
                ),
                pulumi.ResourceOptions(parent=self),
            )
            for label, object_id in groups
        ]
        self.group_object_ids = [object_id for _, object_id in groups]
        self.register_outputs({"groupObjectIds": self.group_object_ids})


def _security_group(logical_name: str, display_name: str, endpoint_name: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    """Creates a security group; its object id. pulumi_azuread is imported here, only when a stack creates
    groups: importing it takes about 0.24 s, a fifth of an offline preview (docs/performance.md)."""
    import pulumi_azuread as azuread

    group = azuread.Group(
        logical_name,
        azuread.GroupArgs(
            display_name=display_name,
            security_enabled=True,
            description=f"Members may score the Azure ML endpoint {endpoint_name}",
        ),
        pulumi.ResourceOptions(parent=parent),
    )
    return group.object_id
