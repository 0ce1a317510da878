"""Subscription bootstrap, run once by an administrator before the first `pulumi up` of the program.

Creates the state backend (one azblob:// container and one azurekeyvault:// key per environment), the custom
invoker role, and the Entra identities the GitHub workflows sign in as: per environment one reader (previews
and drift) and one deployer, each granted that environment's resource group, state container and key only.
Shares components/ and azureml_endpoints/ with the program (one role table, one role-assignment shape), both
installed into ../.venv by `pip install -e .`.
"""

import hashlib

import pulumi
import pulumi_azuread as azuread
from bootstrap_settings import Environment, load
from pipeline_identity import PipelineIdentity, PipelineIdentityArgs
from pulumi_azure_native import authorization
from state_audit import StateAudit, StateAuditArgs
from state_backend import StateBackend, StateBackendArgs

from azureml_endpoints.azure.roles import INVOKER_ROLE, SUBNET_JOIN_ROLE, invoker_role_guid, role_definition_id, subnet_join_role_guid
from components.role_assignments import RoleGrant

SCORE_ACTION = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
# What a private endpoint needs of the subnet it joins (Azure's "Azure RBAC permissions for Azure Private Link":
# read the subnet, join it). The endpoint itself and the workspace's privateEndpointConnections read/write, which
# "Managed virtual network isolation" asks of the deployer, are in the stack's resource group: Contributor there.
SUBNET_JOIN_ACTIONS = ("Microsoft.Network/virtualNetworks/subnets/read", "Microsoft.Network/virtualNetworks/subnets/join/action")
# The roles a deployer may grant, as its Role Based Access Control Administrator condition allows them.
WORKLOAD_ROLES = ("Storage Blob Data Reader", "AcrPull")
# What a stack that creates its workspace grants the workspace's user-assigned identity (docs/workspace-as-code.md);
# allowed only for environments with createsWorkspace.
WORKSPACE_IDENTITY_ROLES = ("Contributor", "Key Vault Administrator", "Storage Blob Data Contributor")

settings = load(pulumi.Config())
client = authorization.get_client_config()
owner = azuread.get_client_config().object_id
subscription = client.subscription_id
tags = {**settings.tags, "managed-by": "pulumi", "purpose": "azureml-endpoints-bootstrap"}
# The token subject's prefix, in the form GitHub sends for this repository (legacy or immutable).
subject = f"repo:{settings.github.repository}"

backend = StateBackend(
    "state",
    StateBackendArgs(
        state=settings.state,
        environments=tuple(settings.environments),
        location=settings.location,
        tenant_id=client.tenant_id,
        tags=tags,
    ),
)
invoker = authorization.RoleDefinition(
    "invoker-role",
    authorization.RoleDefinitionArgs(
        role_definition_id=invoker_role_guid(subscription),
        role_name=INVOKER_ROLE,
        description="May score Azure ML online endpoints with Entra tokens, nothing else.",
        permissions=[authorization.PermissionArgs(actions=[SCORE_ACTION])],
        assignable_scopes=[f"/subscriptions/{subscription}"],
        scope=f"/subscriptions/{subscription}",
    ),
)

# Created only where an environment is private, so a public bootstrap has the same resources as before.
# Assignable in this subscription and in each subscription holding a private environment's subnet (a landing
# zone's network may sit in another one); custom roles cannot name single resources as assignable scopes.
subnet_subscriptions = sorted(
    {subscription} | {e.private_endpoint_subnet_id.split("/")[2] for e in settings.environments.values() if e.private_endpoint_subnet_id}
)
subnet_role = (
    authorization.RoleDefinition(
        "subnet-join-role",
        authorization.RoleDefinitionArgs(
            role_definition_id=subnet_join_role_guid(subscription),
            role_name=SUBNET_JOIN_ROLE,
            description="May join private endpoints to a subnet and read it, nothing else.",
            permissions=[authorization.PermissionArgs(actions=list(SUBNET_JOIN_ACTIONS))],
            assignable_scopes=[f"/subscriptions/{s}" for s in subnet_subscriptions],
            scope=f"/subscriptions/{subscription}",
        ),
    )
    if any(e.private_networking for e in settings.environments.values())
    else None
)


def subnet_scope(e: Environment) -> pulumi.Output[str]:
    """The environment's subnet, as an output of the subnet role: the grant waits for the role to exist (a
    component's depends_on does not reach its children)."""
    return subnet_role.id.apply(lambda _, subnet=e.private_endpoint_subnet_id: subnet)


def group_scope(resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def delegation_condition(e: Environment, own_principal_id: str) -> str:
    """ABAC condition: grant or remove only the product's roles, the data roles to service principals only, and
    never to or from the deployer itself (it could otherwise give itself a delegable role, or Key Vault
    Administrator with createsWorkspace, and keep it through a managed identity's federated credential).

    Built as Microsoft's "Constrain roles and principal types" and "Constrain roles and specific principals"
    examples (Azure docs, "Examples to delegate Azure role assignment management with conditions"):
    `ForAnyOfAnyValues` on the one principal type a request has, `GuidNotEquals` on its principal id, the same
    tests on delete, and every OR or AND of more than two expressions grouped in parentheses.
    """
    roles = WORKLOAD_ROLES + (WORKSPACE_IDENTITY_ROLES if e.creates_workspace else ())
    if e.collects_data and "Storage Blob Data Contributor" not in roles:
        roles += ("Storage Blob Data Contributor",)  # a data collector's write role (docs/operability.md)
    workload = ", ".join(role_definition_id(subscription, r).rsplit("/", 1)[1] for r in roles)
    invoker_guid = invoker_role_guid(subscription)

    def allowed(source: str) -> str:
        attribute = f"@{source}[Microsoft.Authorization/roleAssignments"
        return (
            f"((({attribute}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{workload}}} AND "
            f"{attribute}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}) OR "
            f"({attribute}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{invoker_guid}}} AND "
            f"{attribute}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal', 'Group'}})) AND "
            f"{attribute}:PrincipalId] ForAnyOfAnyValues:GuidNotEquals {{{own_principal_id}}})"
        )

    return (
        f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR {allowed('Request')}) AND "
        f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/delete'}})) OR {allowed('Resource')})"
    )


def reader_subjects(e: Environment) -> tuple[tuple[str, str], ...]:
    """The default branch always (drift, and the preview before each deploy); pull requests only where allowed."""
    branch = (("default-branch", f"{subject}:ref:refs/heads/{settings.github.drift_branch}"),)
    return (("pull-requests", f"{subject}:pull_request"),) + branch if e.pull_request_previews else branch


def deployer_expressions(env: str, e: Environment) -> tuple[tuple[str, str], ...]:
    """One flexible credential per workflow file that runs in the environment: the token must name the environment,
    come from this repository (by id, which a rename or transfer cannot reuse) and from that file on the default
    branch (`job_workflow_ref`: the called file for a reusable workflow), so no other workflow, and no branch,
    can sign in as the deployer even in a job that names the environment."""
    g = settings.github
    return tuple(
        (
            f"workflow-{workflow.rsplit('.', 1)[0]}",
            f"claims['sub'] eq '{subject}:environment:{env}' and claims['repository_id'] eq '{g.numeric_repository_id}' and "
            f"claims['job_workflow_ref'] eq '{g.name_with_owner}/.github/workflows/{workflow}@refs/heads/{g.drift_branch}'",
        )
        for workflow in e.deploy_workflows(env)
    )


readers = {
    env: PipelineIdentity(
        f"reader-{env}",
        PipelineIdentityArgs(
            display_name=f"{settings.github.repository} pipelines (read {env})",
            owner_object_id=owner,
            subjects=reader_subjects(e),
            audience=settings.github.audience,
            subscription_id=subscription,
            grants=lambda _principal, e=e, env=env: (
                RoleGrant("Reader", group_scope(e.resource_group), "reader"),
                RoleGrant("Storage Blob Data Reader", backend.container_ids[env], "state-reader"),
                RoleGrant("Key Vault Crypto User", backend.key_ids[env], "secrets-key"),
            ),
        ),
    )
    for env, e in settings.environments.items()
}
deployers = {
    env: PipelineIdentity(
        f"deployer-{env}",
        PipelineIdentityArgs(
            display_name=f"{settings.github.repository} pipelines (deploy {env})",
            owner_object_id=owner,
            subjects=(),
            claims_expressions=deployer_expressions(env, e),
            audience=settings.github.audience,
            subscription_id=subscription,
            grants=lambda principal, e=e, env=env: (
                RoleGrant("Contributor", group_scope(e.resource_group), "contributor"),
                RoleGrant(
                    "Role Based Access Control Administrator",
                    group_scope(e.resource_group),
                    "role-delegation",
                    principal.apply(lambda object_id: delegation_condition(e, object_id)),
                ),
                RoleGrant("Storage Blob Data Contributor", backend.container_ids[env], "state-writer"),
                RoleGrant("Key Vault Crypto User", backend.key_ids[env], "secrets-key"),
                *((RoleGrant(SUBNET_JOIN_ROLE, subnet_scope(e), "private-endpoint-subnet"),) if e.private_networking else ()),
                # A private stack uploads with Entra (its accounts refuse shared keys). On the group: the accounts
                # do not exist yet, and Contributor there may already list their keys (listKeys, and turning
                # shared keys back on), so the data role adds no reach, only a way that needs no key.
                *(
                    (RoleGrant("Storage Blob Data Contributor", group_scope(e.resource_group), "entra-uploads"),)
                    if e.private_networking
                    else ()
                ),
            ),
        ),
        pulumi.ResourceOptions(depends_on=[invoker]),  # the condition names the invoker role
    )
    for env, e in settings.environments.items()
}


def exemption_name(env: str, assignment_id: str) -> str:
    """From what it waives (environment and assignment), so adding one never renames another; at most 64
    characters, as "Azure Policy exemption structure" allows."""
    return f"azureml-endpoints-{env}-{hashlib.sha256(assignment_id.casefold().encode()).hexdigest()[:12]}"


# A waiver on the environment's resource group, which its workspace and computes are created in: bootstrap's
# administrator may grant it (Microsoft.Authorization/policyExemptions/write there and
# policyAssignments/exempt/action on the assignment, "Azure Policy exemption structure"), the deployer may not.
exemptions: dict[str, authorization.PolicyExemption] = {}
for env, e in settings.environments.items():
    for x in e.landing_zone_exemptions:
        name = exemption_name(env, x.policy_assignment_id)
        exemptions[name] = authorization.PolicyExemption(
            f"landing-zone-exemption-{env}-{name.rsplit('-', 1)[1]}",
            authorization.PolicyExemptionArgs(
                policy_exemption_name=name,
                scope=group_scope(e.resource_group),
                policy_assignment_id=x.policy_assignment_id,
                policy_definition_reference_ids=list(x.policy_definition_reference_ids),
                exemption_category=authorization.ExemptionCategory.WAIVER,
                display_name=f"azureml-endpoints {env}: {', '.join(x.policy_definition_reference_ids)}",
                description=x.justification,
                expires_on=x.expires_on,
            ),
        )

audit = StateAudit(
    "audit",
    StateAuditArgs(
        logs=settings.logs,
        resource_group_name=backend.resource_group_name,
        location=settings.location,
        vault_id=backend.vault_id,
        blob_service_id=backend.blob_service_id,
        watched_reader_client_ids=[readers[env].client_id for env, e in settings.environments.items() if not e.pull_request_previews],
        tags=tags,
    ),
)

pulumi.export("tenantId", client.tenant_id)
pulumi.export("subscriptionId", subscription)
pulumi.export("readerClientIds", {env: r.client_id for env, r in readers.items()})
pulumi.export("deployerClientIds", {env: d.client_id for env, d in deployers.items()})
pulumi.export("stateStorageAccount", backend.account_name)
pulumi.export("backendUrls", backend.backend_urls)
pulumi.export("secretsProviderUrls", backend.secrets_provider_urls)
pulumi.export("invokerRoleDefinitionId", invoker.id)
pulumi.export("auditWorkspaceId", audit.workspace_id)
pulumi.export("landingZoneExemptionIds", {name: x.id for name, x in exemptions.items()})
