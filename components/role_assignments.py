"""Role assignments in the Azure Verified Modules shape, with deterministic names and an explicit wait.

One shape (`role_definition`, `principal_id`, `principal_type`, `scope`), one role-name -> definition-id
table, and names that are GUIDs derived from scope, principal and role, so the same stack always asks
Azure for the same assignment and a changed principal yields a new one instead of a conflict.
"""

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from azureml_endpoints.azure.roles import role_assignment_name, role_definition_id
from azureml_endpoints.resources.propagation import PropagationWait


@dataclass(frozen=True)
class RoleGrant:
    role_definition: str  # a key of azureml_endpoints.azure.roles.ROLE_DEFINITIONS, or INVOKER_ROLE
    scope: pulumi.Input[str]
    scope_label: str  # names the child resource: f"{name}-{scope_label}"
    condition: pulumi.Input[str] | None = None  # an ABAC condition (version 2.0) that narrows the grant


@dataclass(frozen=True)
class RoleAssignmentsArgs:
    subscription_id: str
    principal_id: pulumi.Input[str]
    grants: tuple[RoleGrant, ...]
    propagation_seconds: int | None  # None: nothing waits on these grants, so no wait
    principal_type: str = "ServicePrincipal"


class RoleAssignments(pulumi.ComponentResource):
    """Grants one principal a set of roles, then waits for them to propagate.

    Depend on `wait` to start only once the grants are usable.
    """

    def __init__(self, name: str, args: RoleAssignmentsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:authorization:RoleAssignments", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        assignments = []
        for grant in args.grants:
            definition_id = role_definition_id(args.subscription_id, grant.role_definition)
            name_input = pulumi.Output.all(grant.scope, args.principal_id).apply(
                lambda values, d=definition_id: role_assignment_name(values[0], values[1], d)
            )
            assignments.append(
                authorization.RoleAssignment(
                    f"{name}-{grant.scope_label}",
                    authorization.RoleAssignmentArgs(
                        role_assignment_name=name_input,
                        role_definition_id=definition_id,
                        principal_id=args.principal_id,
                        principal_type=args.principal_type,
                        scope=grant.scope,
                        condition=grant.condition,
                        condition_version="2.0" if grant.condition else None,
                    ),
                    child,
                )
            )
        self.assignment_ids = pulumi.Output.all(*[a.id for a in assignments])
        self.wait = (
            None
            if args.propagation_seconds is None
            else PropagationWait(
                f"{name}-propagation",
                args.propagation_seconds,
                self.assignment_ids,
                pulumi.ResourceOptions(parent=self, depends_on=assignments),
            )
        )
        self.register_outputs({"assignmentIds": self.assignment_ids})
