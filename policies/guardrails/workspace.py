"""A workspace the stack creates (Azure's "Set up authentication between Azure Machine Learning and other
services"): hardened dependencies, the document's role set for its user-assigned identity, identity-based
system datastores, an identity that only grows (SystemAssigned -> SystemAssigned,UserAssigned, never back)."""

from collections import defaultdict

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
    CONTRIBUTOR,
    KEY_VAULT,
    KEY_VAULT_ADMINISTRATOR,
    REGISTRY,
    ROLE_ASSIGNMENT,
    ROLE_NAMES,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    UNKNOWN,
    WORKSPACE,
    configured_guids,
    container_scope,
    plain,
    read,
    role_guid,
    role_ids_schema,
    total,
)

# Where each of the workspace's dependencies is named in its inputs.
DEPENDENCIES = {"storage": "storageAccount", "vault": "keyVault", "registry": "containerRegistry", "insights": "applicationInsights"}
SCOPE_NAMES = {
    "workspace": "the workspace",
    "storage": "its storage account",
    "vault": "its Key Vault",
    "registry": "its container registry",
    "insights": "its Application Insights",
}
# The document's role set for the workspace's user-assigned identity, and the one optional grant.
REQUIRED_ROLES = (
    (CONTRIBUTOR, "workspace"),
    (CONTRIBUTOR, "storage"),
    (CONTRIBUTOR, "vault"),
    (KEY_VAULT_ADMINISTRATOR, "vault"),
    (CONTRIBUTOR, "registry"),
    (CONTRIBUTOR, "insights"),
)
OPTIONAL_ROLES = ((STORAGE_BLOB_DATA_CONTRIBUTOR, "storage"),)  # data preview in the studio
JUDGED_ROLES = {guid for guid, _ in REQUIRED_ROLES + OPTIONAL_ROLES}


def _dependency_urns(resource, prop: str) -> set[str]:
    return {d.urn for d in resource.property_dependencies.get(prop, [])}


def _identity_type(props):
    kind = read(props, "identity", "type")
    return kind if isinstance(kind, str) or kind is UNKNOWN else None


@total
def workspace_identity_roles(args: StackValidationArgs, report_violation: ReportViolation):
    """The primary user-assigned identity of each created workspace holds the role set; these roles go to no
    other principal and to no other scope (roles the stack's config lists, bootstrap's, are not judged here)."""
    extra = configured_guids(args, "additionalRoleDefinitionIds")
    workspaces = {}  # primary identity urn -> (workspace, {scope name: urns})
    for ws in (r for r in args.resources if r.resource_type == WORKSPACE):
        kind = _identity_type(ws.props)
        if not isinstance(kind, str) or "UserAssigned" not in kind:
            continue
        primaries = _dependency_urns(ws, "primaryUserAssignedIdentity")
        if not primaries:
            report_violation(
                f"Workspace {ws.name} has a user-assigned identity but no primary identity this stack creates, so its "
                "role set cannot be verified: create the identity in this stack and name it primaryUserAssignedIdentity.",
                ws.urn,
            )
        scopes = {"workspace": {ws.urn}, **{name: _dependency_urns(ws, prop) for name, prop in DEPENDENCIES.items()}}
        for primary in primaries:
            workspaces[primary] = (ws, scopes)

    held = defaultdict(set)
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        definition = read(assignment.props, "roleDefinitionId")
        if not isinstance(definition, str) or role_guid(definition) not in JUDGED_ROLES or role_guid(definition) in extra:
            continue
        guid = role_guid(definition)
        if guid == STORAGE_BLOB_DATA_CONTRIBUTOR and container_scope(read(assignment.props, "scope")) is not False:
            continue  # on one blob container: a data collector's, judged by data-collector-write-role (or not known yet)
        principals = [u for u in _dependency_urns(assignment, "principalId") if u in workspaces]
        if not principals:
            report_violation(
                f"{ROLE_NAMES[guid]} is granted only to the primary user-assigned identity of a workspace this stack "
                "creates, on that workspace and its dependencies; this principal is not one.",
                assignment.urn,
            )
            continue
        scope_urns = _dependency_urns(assignment, "scope")
        for principal in principals:
            ws, scopes = workspaces[principal]
            places = [name for name, urns in scopes.items() if scope_urns & urns and (guid, name) in REQUIRED_ROLES + OPTIONAL_ROLES]
            if not places:
                allowed = " or ".join(SCOPE_NAMES[n] for g, n in REQUIRED_ROLES + OPTIONAL_ROLES if g == guid)
                report_violation(
                    f"{ROLE_NAMES[guid]} for workspace {ws.name}'s identity is granted outside {allowed}: scope it exactly.",
                    assignment.urn,
                )
            held[principal].update((guid, name) for name in places)

    for principal, (ws, _) in workspaces.items():
        missing = [f"{ROLE_NAMES[g]} on {SCOPE_NAMES[n]}" for g, n in REQUIRED_ROLES if (g, n) not in held[principal]]
        if missing:
            report_violation(
                f"Workspace {ws.name}'s primary user-assigned identity lacks {', '.join(missing)}: the role set Azure "
                "requires for a workspace's user-assigned identity.",
                ws.urn,
            )


@total
def key_vault_rbac(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == KEY_VAULT and read(args.props, "properties", "enableRbacAuthorization") not in (True, UNKNOWN):
        report_violation("enableRbacAuthorization is not true: use the Azure RBAC permission model, not access policies.")


@total
def key_vault_purge_protection(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == KEY_VAULT and read(args.props, "properties", "enablePurgeProtection") not in (True, UNKNOWN):
        report_violation("enablePurgeProtection is not true: a deleted vault (and its keys) could be purged at once.")


@total
def system_datastores_identity(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != WORKSPACE:
        return
    mode = read(args.props, "systemDatastoresAuthMode")
    if mode is not UNKNOWN and str(mode or "").lower() != "identity":
        report_violation(
            f"systemDatastoresAuthMode is {mode or 'unset (AccessKey)'}: set Identity so the workspace stores no storage keys."
        )


@total
def public_network_access_stated(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type in (WORKSPACE, REGISTRY):
        stated = read(args.props, "publicNetworkAccess")
    elif args.resource_type == KEY_VAULT:
        stated = read(args.props, "properties", "publicNetworkAccess")
    else:
        return
    if stated is None:
        report_violation("publicNetworkAccess is not set: state Enabled or Disabled explicitly.")


@total
def identity_only_grows(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != WORKSPACE:
        return
    parts = [read(args.props, "resourceGroupName"), read(args.props, "workspaceName")]
    if not all(isinstance(p, str) for p in parts):
        return
    known = (args.get_config() or {}).get("workspaces")
    baseline = plain(known.get("/".join(parts).lower())) if isinstance(known, dict) else None
    was = baseline.get("type") if isinstance(baseline, dict) else None
    now = _identity_type(args.props) or "SystemAssigned"
    if isinstance(was, str) and "UserAssigned" in was and isinstance(now, str) and "UserAssigned" not in now:
        report_violation(
            f"Workspace {'/'.join(parts)} has a {was} identity and Azure cannot change it to {now}: keep "
            "SystemAssigned,UserAssigned with at least one user-assigned identity."
        )


workspace_identity_role_set = StackValidationPolicy(
    name="workspace-identity-roles",
    description="A created workspace's primary user-assigned identity holds Contributor on the workspace, storage, vault, registry and insights plus Key Vault Administrator, and only it holds them there.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=workspace_identity_roles,
    config_schema=role_ids_schema("additionalRoleDefinitionIds"),
)
key_vault_rbac_authorization = ResourceValidationPolicy(
    name="key-vault-rbac-authorization",
    description="Key Vaults use the Azure RBAC permission model.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=key_vault_rbac,
)
key_vault_purge_protected = ResourceValidationPolicy(
    name="key-vault-purge-protection",
    description="Key Vaults have purge protection on.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=key_vault_purge_protection,
)
workspace_system_datastores_identity = ResourceValidationPolicy(
    name="workspace-system-datastores-identity",
    description="Created workspaces authenticate their system datastores by identity (mandatory in prod).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=system_datastores_identity,
)
workspace_public_network_access = ResourceValidationPolicy(
    name="workspace-public-network-access-stated",
    description="Created workspaces, Key Vaults and registries state publicNetworkAccess explicitly.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=public_network_access_stated,
)
workspace_identity_baseline = ResourceValidationPolicy(
    name="workspace-identity-baseline",
    description="A workspace with a user-assigned identity never goes back to SystemAssigned (baseline from the stack's state).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=identity_only_grows,
    config_schema=PolicyConfigSchema(
        properties={
            "workspaces": {
                "type": "object",
                "default": {},
                "description": "resourceGroup/workspace (lowercase) -> {type, userAssignedIdentities}",
            }
        }
    ),
)

POLICIES = [
    workspace_identity_role_set,
    key_vault_rbac_authorization,
    key_vault_purge_protected,
    workspace_system_datastores_identity,
    workspace_public_network_access,
    workspace_identity_baseline,
]
