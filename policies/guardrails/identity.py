"""Endpoint identities are immutable in Azure (Azure ML docs, "Access Azure resources from an online endpoint with a managed identity"): declared, protected, and never changed in place.

A policy sees only a resource's new inputs, never its prior state, so the identity each endpoint was
created with is handed to the pack as configuration (the baseline, see azureml_endpoints/cli/baseline.py).
"""

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from guardrails.common import BATCH_ENDPOINT, ENDPOINTS, UNKNOWN, Unknown, plain, read, total


def endpoint_key(props) -> str:
    """What names an endpoint in Azure, known in every preview: resource group / workspace / endpoint."""
    parts = [read(props, "resourceGroupName"), read(props, "workspaceName"), read(props, "endpointName")]
    return "/".join("?" if isinstance(p, Unknown) or p is None else str(p) for p in parts).lower()


def _identity(props) -> dict:
    identity = plain(read(props, "identity", default={}))
    return identity if isinstance(identity, dict) else {"type": identity}


@total
def require_protection(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type not in ENDPOINTS or not (args.get_config() or {}).get("required"):
        return
    if not args.opts.protect:
        report_violation(
            "Endpoint is not protected. This stack requires protection so that an identity change (a replacement) "
            "or a deletion cannot happen in the same change that drops it. Set protect: true for this endpoint."
        )


@total
def require_explicit_identity(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type not in ENDPOINTS:
        return
    identity = _identity(args.props)
    kind = identity.get("type")
    if kind is UNKNOWN:
        return
    if kind not in ("SystemAssigned", "UserAssigned"):
        report_violation(
            f"Endpoint identity type is {kind!r}: declare SystemAssigned or UserAssigned explicitly, because the "
            "identity chosen at creation can never be changed afterwards."
        )
    elif kind == "UserAssigned" and not identity.get("userAssignedIdentities"):
        report_violation("Endpoint identity is UserAssigned but names no user-assigned identity.")


@total
def identity_matches_baseline(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type not in ENDPOINTS:
        return
    endpoints = (args.get_config() or {}).get("endpoints") or {}
    if not isinstance(endpoints, dict):
        report_violation(
            "The policy config's endpoints is not a map of endpoint -> identity; rebuild it with azureml_endpoints.cli.baseline."
        )
        return
    baseline = endpoints.get(endpoint_key(args.props))
    if baseline is None:
        return  # a new endpoint may choose any identity
    if not isinstance(baseline, dict) or not isinstance(baseline.get("userAssignedIdentities") or [], list):
        report_violation(
            f"The baseline of {endpoint_key(args.props)} is not {{type, userAssignedIdentities}}; rebuild it with azureml_endpoints.cli.baseline."
        )
        return
    proposed = _identity(args.props)
    was_type, now_type = baseline.get("type"), proposed.get("type")
    was_ids = sorted(str(i).lower() for i in baseline.get("userAssignedIdentities") or [])
    now_ids = proposed.get("userAssignedIdentities") or []
    if isinstance(now_ids, dict):  # the map form Azure reports
        now_ids = list(now_ids)
    if now_ids is not UNKNOWN and (not isinstance(now_ids, list) or any(not isinstance(i, (str, Unknown)) for i in now_ids)):
        report_violation(f"Endpoint {endpoint_key(args.props)}: identity.userAssignedIdentities is not a list of identity ids.")
        return
    if now_ids is UNKNOWN or any(i is UNKNOWN for i in now_ids):
        unknown_ids = True
        known_now = sorted(i.lower() for i in now_ids if i is not UNKNOWN) if now_ids is not UNKNOWN else []
    else:
        unknown_ids = False
        known_now = sorted(i.lower() for i in now_ids)
    changes = []
    if now_type is UNKNOWN:
        changes.append("identity type is not known yet")
    elif now_type != was_type:
        changes.append(f"type {was_type} -> {now_type}")
    if was_type == "UserAssigned" and now_type == "UserAssigned":
        if unknown_ids:
            # An existing identity's id is always known; an unknown id is an identity still to be created.
            changes.append(f"user-assigned identity {was_ids} -> an identity that does not exist yet")
        elif known_now != was_ids:
            changes.append(f"user-assigned identities {was_ids} -> {known_now}")
    if changes:
        report_violation(
            f"Endpoint {endpoint_key(args.props)} was created with a {was_type} identity and Azure cannot change it "
            f"({'; '.join(changes)}). Keep the identity, or deploy a new endpoint under a new name and move traffic to it."
        )


@total
def batch_endpoint_system_assigned(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != BATCH_ENDPOINT:
        return
    kind = _identity(args.props).get("type")
    if kind is not UNKNOWN and kind not in (None, "SystemAssigned"):
        report_violation(f"Batch endpoint identity is {kind}; Azure only accepts a system-assigned identity on batch endpoints.")


endpoint_protected = ResourceValidationPolicy(
    name="endpoint-protected",
    description="Endpoints are protected in stacks that require it, so an identity replacement is refused by the engine.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=require_protection,
    config_schema=PolicyConfigSchema(properties={"required": {"type": "boolean", "default": False}}),
)

endpoint_identity_explicit = ResourceValidationPolicy(
    name="endpoint-identity-explicit",
    description="Endpoints declare their identity (SystemAssigned or UserAssigned): it is fixed at creation.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=require_explicit_identity,
)

endpoint_identity_baseline = ResourceValidationPolicy(
    name="endpoint-identity-baseline",
    description="An existing endpoint keeps the identity it was created with (baseline from the stack's state).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=identity_matches_baseline,
    config_schema=PolicyConfigSchema(
        properties={
            "endpoints": {
                "type": "object",
                "default": {},
                "description": "resourceGroup/workspace/endpoint (lowercase) -> {type, userAssignedIdentities}",
            }
        }
    ),
)

batch_endpoint_identity = ResourceValidationPolicy(
    name="batch-endpoint-system-assigned",
    description="Batch endpoints use a system-assigned identity, the only kind Azure accepts for them.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=batch_endpoint_system_assigned,
)

POLICIES = [endpoint_protected, endpoint_identity_explicit, endpoint_identity_baseline, batch_endpoint_identity]
