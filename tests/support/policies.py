"""Helpers several test modules share: calling one policy rule directly, and a stack export of evaluated resources."""

from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

SUB = "/subscriptions/00000000-0000-4000-8000-000000000001"
RG = f"{SUB}/resourceGroups/rg-ml"
ACCOUNT = f"{RG}/providers/Microsoft.Storage/storageAccounts/stdata"
UAI_ID = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-a"


def check(policy, resource_type, props, protect=False, config=None) -> list[str]:
    """The messages one resource rule reports for `props`, called as the engine calls it (unknowns checked)."""
    options = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(props), "urn:x", "x", options, None, config)
    found = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def check_stack(policy, resources, config=None) -> list[tuple[str, str]]:
    """(resource name, message) for each violation one stack rule reports over `resources`: (type, name, props)."""
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    policy_resources = [
        PolicyResource(type_, unknown_checking_proxy(props), f"urn:x::{name}", name, options, None, None, [], {})
        for type_, name, props in resources
    ]
    found = []
    policy.validate(
        StackValidationArgs(policy_resources, config), lambda message, urn=None: found.append((urn.rsplit("::", 1)[-1], message))
    )
    return found


def role(guid, scope=ACCOUNT, principal_type="ServicePrincipal"):
    props = {"roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "scope": scope, "principalId": "p"}
    if principal_type:
        props["principalType"] = principal_type
    return props


def stack_export(resources) -> dict:
    """`pulumi stack export` (deployment version 3) of a stack whose resources were created as evaluated."""
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-22T00:00:00Z", "magic": "", "version": "v3.272.0"},
            "resources": [
                {
                    "urn": r.urn,
                    "custom": r.custom,
                    "id": r.id,
                    "type": r.type,
                    "inputs": r.inputs,
                    "outputs": r.outputs,
                    "parent": r.parent,
                    "protect": r.protect,
                    "dependencies": r.dependencies,
                }
                for r in resources
            ],
        },
    }
