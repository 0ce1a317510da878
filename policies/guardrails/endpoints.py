"""Online endpoints fit for their stack: Entra auth, high availability and an explicit network stance in prod."""

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
    ACR_PULL,
    AUTOSCALE_SETTING,
    ONLINE_DEPLOYMENT,
    ONLINE_ENDPOINT,
    ROLE_ASSIGNMENT,
    STORAGE_ACCOUNT,
    STORAGE_BLOB_DATA_READER,
    UNKNOWN,
    USER_ASSIGNED_IDENTITY,
    WORKSPACE,
    arm_type,
    plain,
    read,
    role_guid,
    total,
)


@total
def entra_token_auth(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ONLINE_ENDPOINT:
        return
    mode = read(args.props, "properties", "authMode")
    if mode is not UNKNOWN and mode != "AADToken":
        report_violation(f"authMode is {mode}: use AADToken (Entra). Keys never expire and cannot be scoped to a caller.")


@total
def minimum_instances(args: ResourceValidationArgs, report_violation: ReportViolation):
    minimum = (args.get_config() or {}).get("minInstances", 3)
    # The engine delivers policy config as a protobuf Struct, where every number is a double: a configured 10
    # arrives as 10.0 and must count as 10.
    whole = isinstance(minimum, int | float) and not isinstance(minimum, bool) and float(minimum).is_integer()
    minimum = int(minimum) if whole else 3
    if args.resource_type == AUTOSCALE_SETTING:  # the scaler may go down to its minimum
        profiles = plain(read(args.props, "profiles", default=[]))
        for profile in profiles if isinstance(profiles, list) else []:
            capacity = profile.get("capacity") if isinstance(profile, dict) else None
            floor = capacity.get("minimum") if isinstance(capacity, dict) else None
            if isinstance(floor, str) and floor.isdigit() and int(floor) < minimum:
                report_violation(
                    f"Autoscale may scale the deployment down to {floor} instance(s); high availability needs at least {minimum}."
                )
        return
    if args.resource_type != ONLINE_DEPLOYMENT:
        return
    capacity = read(args.props, "sku", "capacity")
    if capacity is UNKNOWN:
        return  # cannot tell yet
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, (int, float))):
        report_violation(f"sku.capacity is not a number ({str(capacity)[:40]!r}); high availability needs at least {minimum} instances.")
        return
    if capacity is None or capacity < minimum:
        count = "an unset number of" if capacity is None else int(capacity)
        report_violation(f"Deployment runs {count} instance(s); high availability needs at least {minimum}.")


@total
def public_network_access_stated(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == ONLINE_ENDPOINT and read(args.props, "properties", "publicNetworkAccess") is None:
        report_violation("publicNetworkAccess is not set: state Enabled or Disabled explicitly for this stack.")


@total
def user_assigned_identities_have_workspace_roles(args: StackValidationArgs, report_violation: ReportViolation):
    """A UAI endpoint's identity pulls the image and reads the workspace storage itself (Azure ML docs, "Access Azure resources from an online endpoint with a managed identity")."""
    granted_to: dict[str, list] = defaultdict(list)  # principal's resource urn -> its role assignments
    for assignment in (r for r in args.resources if r.resource_type == ROLE_ASSIGNMENT):
        for principal in assignment.property_dependencies.get("principalId", []):
            granted_to[principal.urn].append(assignment)
    # A workspace the stack creates names its storage and registry; a looked-up one's are not in the stack.
    created = [r for r in args.resources if r.resource_type == WORKSPACE]
    workspace_storage = {d.urn for w in created for d in w.property_dependencies.get("storageAccount", [])}
    workspace_registries = {d.urn for w in created for d in w.property_dependencies.get("containerRegistry", [])}
    for endpoint in (r for r in args.resources if r.resource_type == ONLINE_ENDPOINT):
        if read(endpoint.props, "identity", "type") != "UserAssigned":
            continue
        identities = [d for d in endpoint.property_dependencies.get("identity", []) if d.resource_type == USER_ASSIGNED_IDENTITY]
        if not identities:
            report_violation(
                "Endpoint uses a user-assigned identity this stack does not manage, so its AcrPull and workspace storage "
                "roles cannot be verified here: create the identity and its roles in this stack.",
                endpoint.urn,
            )
        for identity in identities:
            granted = granted_to[identity.urn]
            if any(read(a.props, "roleDefinitionId") is UNKNOWN or read(a.props, "scope") is UNKNOWN for a in granted):
                continue  # a role or scope the engine learns only at apply: cannot tell yet
            acr_pull = any(
                role_guid(read(a.props, "roleDefinitionId", default="")) == ACR_PULL
                and (
                    arm_type(str(read(a.props, "scope", default=""))) == "Microsoft.ContainerRegistry/registries"
                    or any(d.urn in workspace_registries for d in a.property_dependencies.get("scope", []))
                )
                for a in granted
            )
            # A looked-up workspace's storage exists before the stack (the stack's own accounts are data accounts);
            # a created workspace's is the account the workspace names.
            workspace_reader = any(
                role_guid(read(a.props, "roleDefinitionId", default="")) == STORAGE_BLOB_DATA_READER
                and (
                    any(d.urn in workspace_storage for d in a.property_dependencies.get("scope", []))
                    or (
                        isinstance(read(a.props, "scope"), str)
                        and arm_type(read(a.props, "scope")) == "Microsoft.Storage/storageAccounts"
                        and not any(d.resource_type == STORAGE_ACCOUNT for d in a.property_dependencies.get("scope", []))
                    )
                )
                for a in granted
            )
            missing = [
                n
                for n, ok in (
                    ("AcrPull on the workspace registry", acr_pull),
                    ("Storage Blob Data Reader on the workspace storage", workspace_reader),
                )
                if not ok
            ]
            if missing:
                report_violation(f"User-assigned identity {identity.name} of this endpoint lacks {' and '.join(missing)}.", endpoint.urn)


endpoint_entra_auth = ResourceValidationPolicy(
    name="endpoint-entra-auth",
    description="Online endpoints use Entra token auth (mandatory in prod; guidance elsewhere).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=entra_token_auth,
)
deployment_min_instances = ResourceValidationPolicy(
    name="deployment-min-instances",
    description="Online deployments run at least 3 instances for high availability, also at autoscale's minimum (Azure ML docs, 'Deploy and score a machine learning model by using an online endpoint'; mandatory in prod).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=minimum_instances,
    config_schema=PolicyConfigSchema(properties={"minInstances": {"type": "integer", "default": 3}}),
)
endpoint_public_network_access = ResourceValidationPolicy(
    name="endpoint-public-network-access-stated",
    description="Online endpoints state publicNetworkAccess explicitly (mandatory in prod).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=public_network_access_stated,
)
uai_endpoint_workspace_roles = StackValidationPolicy(
    name="uai-endpoint-workspace-roles",
    description="Every user-assigned endpoint identity has AcrPull on the workspace registry and Storage Blob Data Reader on the workspace storage in the same stack.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=user_assigned_identities_have_workspace_roles,
)

POLICIES = [endpoint_entra_auth, deployment_min_instances, endpoint_public_network_access, uai_endpoint_workspace_roles]
