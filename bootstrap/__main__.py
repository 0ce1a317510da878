"""Subscription bootstrap, run once by an administrator before the first `pulumi up` of the program.

Creates the state backend (azblob:// container, azurekeyvault:// key), the custom invoker role, and the
Entra identities the GitHub workflows sign in as: one reader for previews and drift, one deployer per
environment. Shares components/ with the program (one role table, one role-assignment shape).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: components/

import pulumi  # noqa: E402
import pulumi_azuread as azuread  # noqa: E402
from pulumi_azure_native import authorization  # noqa: E402

from bootstrap_settings import load  # noqa: E402
from components.role_assignments import INVOKER_ROLE, RoleGrant, invoker_role_guid, role_definition_id  # noqa: E402
from pipeline_identity import PipelineIdentity, PipelineIdentityArgs  # noqa: E402
from state_backend import StateBackend, StateBackendArgs  # noqa: E402

SCORE_ACTION = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
# The roles a deployer may grant, as its Role Based Access Control Administrator condition allows them.
WORKLOAD_ROLES = ("Storage Blob Data Reader", "AcrPull")

settings = load(pulumi.Config())
client = authorization.get_client_config()
owner = azuread.get_client_config().object_id
subscription = client.subscription_id
tags = {**settings.tags, "managed-by": "pulumi", "purpose": "azureml-endpoints-bootstrap"}
repo = settings.github.repository

backend = StateBackend(
    "state", StateBackendArgs(state=settings.state, location=settings.location, tenant_id=client.tenant_id, tags=tags)
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


def group_scope(resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def delegation_condition() -> str:
    """ABAC condition: grant or remove only the product's roles, the data roles to service principals only."""
    workload = ", ".join(role_definition_id(subscription, r).rsplit("/", 1)[1] for r in WORKLOAD_ROLES)
    invoker_guid = invoker_role_guid(subscription)
    request, resource = "@Request[Microsoft.Authorization/roleAssignments", "@Resource[Microsoft.Authorization/roleAssignments"
    return (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"({request}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{workload}}} AND "
        f"{request}:PrincipalType] ForAnyOfAllValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}) OR "
        f"({request}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{invoker_guid}}} AND "
        f"{request}:PrincipalType] ForAnyOfAllValues:StringEqualsIgnoreCase {{'ServicePrincipal', 'Group'}})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"({resource}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{workload}, {invoker_guid}}}))"
    )


reader = PipelineIdentity(
    "reader",
    PipelineIdentityArgs(
        display_name=f"{repo} pipelines (read-only)",
        owner_object_id=owner,
        subjects=(
            ("pull-requests", f"repo:{repo}:pull_request"),
            ("drift", f"repo:{repo}:ref:refs/heads/{settings.github.drift_branch}"),
        ),
        audience=settings.github.audience,
        subscription_id=subscription,
        grants=(
            *(RoleGrant("Reader", group_scope(e.resource_group), f"reader-{n}") for n, e in settings.environments.items()),
            RoleGrant("Storage Blob Data Reader", backend.container_id, "state-reader"),
            RoleGrant("Key Vault Crypto User", backend.key_id, "secrets-key"),
        ),
    ),
)
deployers = {
    env: PipelineIdentity(
        f"deployer-{env}",
        PipelineIdentityArgs(
            display_name=f"{repo} pipelines (deploy {env})",
            owner_object_id=owner,
            subjects=((f"environment-{env}", f"repo:{repo}:environment:{env}"),),
            audience=settings.github.audience,
            subscription_id=subscription,
            grants=(
                RoleGrant("Contributor", group_scope(e.resource_group), "contributor"),
                RoleGrant("Role Based Access Control Administrator", group_scope(e.resource_group), "role-delegation", delegation_condition()),
                RoleGrant("Storage Blob Data Contributor", backend.container_id, "state-writer"),
                RoleGrant("Key Vault Crypto User", backend.key_id, "secrets-key"),
            ),
        ),
        pulumi.ResourceOptions(depends_on=[invoker]),  # the condition names the invoker role
    )
    for env, e in settings.environments.items()
}

pulumi.export("tenantId", client.tenant_id)
pulumi.export("subscriptionId", subscription)
pulumi.export("readerClientId", reader.client_id)
pulumi.export("deployerClientIds", {env: d.client_id for env, d in deployers.items()})
pulumi.export("stateStorageAccount", backend.account_name)
pulumi.export("backendUrl", backend.backend_url)
pulumi.export("secretsProviderUrl", backend.secrets_provider_url)
pulumi.export("invokerRoleDefinitionId", invoker.id)
