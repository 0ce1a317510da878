"""Who may score an Entra-token online endpoint: groups with the invoker role at the endpoint's scope.

The invoker role carries only `onlineEndpoints/score/action`; bootstrap/ defines it once per subscription.
Groups are named by object id, or created here (then the deploying identity needs Graph rights to create
groups; naming existing groups needs none).
"""

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components.role_assignments import INVOKER_ROLE, RoleAssignments, RoleAssignmentsArgs, RoleGrant
from components.settings import Callers


@dataclass(frozen=True)
class EndpointCallersArgs:
    callers: Callers
    endpoint_id: pulumi.Input[str]
    endpoint_name: str
    subscription_id: str


class EndpointCallers(pulumi.ComponentResource):
    def __init__(self, name: str, args: EndpointCallersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:authorization:EndpointCallers", name, {}, opts)
        groups: list[tuple[str, pulumi.Input[str]]] = [(object_id.lower(), object_id) for object_id in args.callers.group_object_ids]
        for index, display_name in enumerate(args.callers.groups):
            group = azuread.Group(
                f"{name}-group-{index}",
                azuread.GroupArgs(
                    display_name=display_name,
                    security_enabled=True,
                    description=f"Members may score the Azure ML endpoint {args.endpoint_name}",
                ),
                pulumi.ResourceOptions(parent=self),
            )
            groups.append((f"created-{index}", group.object_id))
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
