"""Least privilege for workload identities: only the roles the product needs, at resource scope."""

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from guardrails.common import (
    ACR_PULL,
    BLOB_CONTAINER_TYPE,
    CONTRIBUTOR,
    KEY_VAULT_ADMINISTRATOR,
    ONLINE_DEPLOYMENT,
    ONLINE_ENDPOINT,
    ONLINE_ENDPOINT_TYPE,
    OWNER,
    RBAC_ADMINISTRATOR,
    ROLE_ASSIGNMENT,
    ROLE_DEFINITION,
    ROLE_NAMES,
    STORAGE_ACCOUNT_TYPE,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    SUBNET_JOIN_ROLE_NAMESPACE,
    SUBNET_TYPE,
    UNKNOWN,
    USER_ACCESS_ADMINISTRATOR,
    USER_ASSIGNED_IDENTITY,
    arm_type,
    configured_guids,
    container_scope,
    invoker_guid,
    plain,
    read,
    role_guid,
    role_ids_schema,
    total,
)

PRODUCT_ROLES = (STORAGE_BLOB_DATA_READER, ACR_PULL)


NEVER_GRANTED = (OWNER, USER_ACCESS_ADMINISTRATOR)
# Pipeline roles (bootstrap/): refused unless a stack's policy config lists them in additionalRoleDefinitionIds.
PIPELINE_ONLY = (CONTRIBUTOR, RBAC_ADMINISTRATOR)
# The role set of a created workspace's user-assigned identity: allowed only for that principal at the workspace
# and its dependencies, which only a stack view shows; the stack policy workspace-identity-roles judges them.
WORKSPACE_IDENTITY_ROLES = (CONTRIBUTOR, KEY_VAULT_ADMINISTRATOR, STORAGE_BLOB_DATA_CONTRIBUTOR)


@total
def allowed_roles_only(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ROLE_ASSIGNMENT:
        return
    definition = read(args.props, "roleDefinitionId")
    if definition is UNKNOWN or definition is None:
        return  # cannot tell yet
    if not isinstance(definition, str):
        report_violation(f"roleDefinitionId is not a role definition id: {str(definition)[:100]!r}.")
        return
    guid = role_guid(definition)
    extra = configured_guids(args, "additionalRoleDefinitionIds")
    if guid == invoker_guid(definition):
        scope = read(args.props, "scope")
        if isinstance(scope, str) and arm_type(scope) != ONLINE_ENDPOINT_TYPE:
            report_violation(f"The invoker role is granted at '{scope}': grant it on the one online endpoint the callers may score.")
        return
    if guid == invoker_guid(definition, SUBNET_JOIN_ROLE_NAMESPACE):
        scope = read(args.props, "scope")
        if isinstance(scope, str) and arm_type(scope) != SUBNET_TYPE:
            report_violation(f"The private endpoint subnet role is granted at '{scope}': grant it on the one subnet the endpoints join.")
        return
    if guid == STORAGE_BLOB_DATA_CONTRIBUTOR and guid not in extra:
        # Whose it is, only the whole stack shows: on one blob container data-collector-write-role judges it, on a
        # storage account workspace-identity-roles (a created workspace's identity, for studio data preview).
        scope = read(args.props, "scope")
        if isinstance(scope, str) and arm_type(scope) not in (BLOB_CONTAINER_TYPE, STORAGE_ACCOUNT_TYPE):
            report_violation(
                f"Storage Blob Data Contributor is granted at '{scope}': it goes on one blob container (a data collector) "
                "or on a created workspace's storage account, never wider."
            )
        return
    if guid in NEVER_GRANTED:
        report_violation(f"{ROLE_NAMES[guid]} is never granted; grant the narrow role the identity needs.")
    elif guid in WORKSPACE_IDENTITY_ROLES and guid not in extra:
        return  # workspace-identity-roles: only a created workspace's identity, at the workspace and its dependencies
    elif guid in PIPELINE_ONLY and guid not in extra:
        report_violation(f"{ROLE_NAMES[guid]} is never granted to a workload identity; grant the narrow data role it needs.")
    elif guid == RBAC_ADMINISTRATOR and not read(args.props, "condition"):
        report_violation(
            "Role Based Access Control Administrator without a condition can grant any role: add a condition that "
            "names the only roles it may grant."
        )
    elif guid not in PRODUCT_ROLES and guid not in extra:
        allowed = ", ".join(ROLE_NAMES[g] for g in PRODUCT_ROLES)
        report_violation(
            f"Role definition {guid} is not one the product needs ({allowed}, the endpoint invoker role, or additionalRoleDefinitionIds)."
        )


@total
def resource_scope_only(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ROLE_ASSIGNMENT:
        return
    scope = read(args.props, "scope")
    if scope is UNKNOWN or scope is None:
        return  # cannot tell yet
    if not isinstance(scope, str):
        report_violation(f"scope is not an ARM id: {str(scope)[:100]!r}.")
        return
    segments = [s.lower() for s in scope.strip("/").split("/")]
    if "providers" in segments and segments[:2] != ["providers", "microsoft.management"]:
        return
    if len(segments) == 4 and segments[2] == "resourcegroups":
        definition = read(args.props, "roleDefinitionId")
        allowed = configured_guids(args, "resourceGroupScopeRoleDefinitionIds")
        if isinstance(definition, str) and role_guid(definition) in allowed:
            return  # a pipeline role the stack's policy config allows on a resource group
        level = "resource group"
    else:
        level = "subscription or management group"
    report_violation(f"Role assignment at {level} scope '{scope}': scope it to the one resource the identity reads.")


@total
def principal_type_set(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ROLE_ASSIGNMENT:
        return
    principal_type = read(args.props, "principalType")
    if principal_type is None:
        report_violation(
            "Role assignment has no principalType: set it (ServicePrincipal for managed identities) so Azure does not "
            "have to look the principal up, which fails while a new identity is still replicating."
        )


@total
def custom_role_without_wildcards(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ROLE_DEFINITION:
        return
    permissions = plain(read(args.props, "permissions", default=[]))
    if permissions is UNKNOWN:
        return  # cannot tell yet
    if not isinstance(permissions, list):
        report_violation("permissions is not a list of {actions, dataActions} objects.")
        return
    wildcards, odd = set(), []
    for i, permission in enumerate(permissions):
        if permission is UNKNOWN:
            continue  # cannot tell yet
        if not isinstance(permission, dict):
            odd.append(f"permissions[{i}]")
            continue
        for field in ("actions", "dataActions"):
            actions = permission.get(field) or []
            if actions is UNKNOWN:
                continue
            if not isinstance(actions, list):
                odd.append(f"permissions[{i}].{field}")
                continue
            wildcards.update(a for a in actions if isinstance(a, str) and "*" in a)
    if odd:
        report_violation(f"{', '.join(odd)}: expected lists of exact actions; the role cannot be checked.")
    if wildcards:
        report_violation(f"Custom role grants wildcard actions {sorted(wildcards)}: list the exact actions instead.")


@total
def data_collector_writes_only(args: StackValidationArgs, report_violation: ReportViolation):
    """Storage Blob Data Contributor goes only to the identity of an endpoint whose deployment collects data
    ("Collect production data from models deployed for real-time inferencing")."""

    def collects(deployment) -> bool:
        properties = plain(read(deployment.props, "properties"))
        return isinstance(properties, dict) and properties.get("dataCollector") not in (None, UNKNOWN)

    collecting_endpoints = {
        dep.urn
        for d in args.resources
        if d.resource_type == ONLINE_DEPLOYMENT and collects(d)
        for dep in d.property_dependencies.get("endpointName", [])
        if dep.resource_type == ONLINE_ENDPOINT
    }
    writers = set(collecting_endpoints)  # a system-assigned endpoint writes as itself
    for endpoint in (r for r in args.resources if r.urn in collecting_endpoints):
        writers |= {d.urn for d in endpoint.property_dependencies.get("identity", []) if d.resource_type == USER_ASSIGNED_IDENTITY}
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        definition = read(assignment.props, "roleDefinitionId")
        if not isinstance(definition, str) or role_guid(definition) != STORAGE_BLOB_DATA_CONTRIBUTOR:
            continue
        if container_scope(read(assignment.props, "scope")) is not True:
            continue  # not on one container (workspace-identity-roles judges it), or not known yet
        principals = assignment.property_dependencies.get("principalId", [])
        workload = [p for p in principals if p.resource_type in (USER_ASSIGNED_IDENTITY, ONLINE_ENDPOINT)]
        if workload and not any(p.urn in writers for p in workload):
            report_violation(
                "Storage Blob Data Contributor is granted to an endpoint identity whose deployments collect no data: "
                "grant it only with dataCollector.",
                assignment.urn,
            )


data_collector_write_role = StackValidationPolicy(
    name="data-collector-write-role",
    description="Storage Blob Data Contributor goes to a workload identity only when its endpoint's deployment collects data, on one container.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=data_collector_writes_only,
)

role_assignment_allowed_roles = ResourceValidationPolicy(
    name="role-assignment-allowed-roles",
    description="Identities get only Storage Blob Data Reader, AcrPull, the endpoint invoker role on an endpoint, or a created workspace's role set (never Owner or User Access Administrator).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=allowed_roles_only,
    config_schema=role_ids_schema("additionalRoleDefinitionIds"),
)

role_assignment_resource_scope = ResourceValidationPolicy(
    name="role-assignment-resource-scope",
    description="Role assignments are scoped to a resource, never a subscription or management group, and a resource group only for listed pipeline roles.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=resource_scope_only,
    config_schema=role_ids_schema("resourceGroupScopeRoleDefinitionIds"),
)

role_assignment_principal_type = ResourceValidationPolicy(
    name="role-assignment-principal-type",
    description="Role assignments state their principal type.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=principal_type_set,
)

custom_role_no_wildcards = ResourceValidationPolicy(
    name="custom-role-no-wildcard-actions",
    description="Custom role definitions list exact actions, no '*'.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=custom_role_without_wildcards,
)

POLICIES = [
    role_assignment_allowed_roles,
    role_assignment_resource_scope,
    role_assignment_principal_type,
    custom_role_no_wildcards,
    data_collector_write_role,
]
