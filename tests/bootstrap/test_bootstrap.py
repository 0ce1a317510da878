"""bootstrap/: the state backend and the pipeline identities, under the ARM- and Entra-like mocks."""

import re

import pytest
import yaml

from azureml_endpoints.azure.roles import ROLE_DEFINITIONS, invoker_role_guid, subnet_join_role_guid
from azureml_endpoints.offline.arm_mocks import CALLER_OBJECT_ID, SUBSCRIPTION_ID
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import PolicyPackServer, load_policy_config
from azureml_endpoints.paths import REPO, project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config
from tests.support.abac import ConditionSyntaxError, Request, parse
from tests.support.abac import evaluate as evaluate_condition

BOOTSTRAP = REPO / "bootstrap"
RA = "azure-native:authorization:RoleAssignment"
FIC = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
FLEXIBLE = "azuread:index/applicationFlexibleFederatedIdentityCredential:ApplicationFlexibleFederatedIdentityCredential"
REPOSITORY = "contoso/azureml-endpoints"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def boot():
    return evaluate("example", project_dir=BOOTSTRAP)


def role_name(definition_id: str) -> str:
    guid = definition_id.rsplit("/", 1)[1]
    names = {v: k for k, v in ROLE_DEFINITIONS.items()}
    custom = {invoker_role_guid(SUBSCRIPTION_ID): "invoker", subnet_join_role_guid(SUBSCRIPTION_ID): "subnet-join"}
    return names.get(guid) or custom.get(guid, guid)


def grants_of(boot, identity: str) -> dict[str, tuple[str, str]]:
    principal = boot.named(f"{identity}-principal").outputs["objectId"]
    found = {}
    for r in boot.of_type(RA):
        if r.inputs["principalId"] == principal:
            found[r.name.removeprefix(f"{identity}-roles-")] = (role_name(r.inputs["roleDefinitionId"]), r.inputs["scope"])
            assert r.inputs["principalType"] == "ServicePrincipal"
    return found


def rg(name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}"


ENVIRONMENTS = ("dev", "staging", "prod")


def test_federated_credentials_match_githubs_oidc_tokens(boot):
    credentials = {r.name: r.inputs for r in boot.of_type(FIC)}
    expected = {
        "reader-dev-pull-requests": f"repo:{REPOSITORY}:pull_request",
        "reader-dev-default-branch": f"repo:{REPOSITORY}:ref:refs/heads/main",
        "reader-staging-pull-requests": f"repo:{REPOSITORY}:pull_request",
        "reader-staging-default-branch": f"repo:{REPOSITORY}:ref:refs/heads/main",
        # prod's reader trusts no pull request: a PR's own code would run with prod's state and key.
        "reader-prod-default-branch": f"repo:{REPOSITORY}:ref:refs/heads/main",
    }
    assert {name: c["subject"] for name, c in credentials.items()} == expected
    for name, c in credentials.items():
        assert c["issuer"] == "https://token.actions.githubusercontent.com"
        assert c["audiences"] == ["api://AzureADTokenExchange"]
        identity = "-".join(name.split("-")[:2])
        assert c["applicationId"] == boot.named(f"{identity}-application").id


def flexible_credentials(boot) -> dict[str, str]:
    found = {}
    for r in boot.of_type(FLEXIBLE):
        assert r.inputs["issuer"] == "https://token.actions.githubusercontent.com"
        assert r.inputs["audience"] == "api://AzureADTokenExchange"
        assert r.inputs["applicationId"] == boot.named("-".join(r.name.split("-")[:2]) + "-application").id
        found[r.name] = r.inputs["claimsMatchingExpression"]
    return found


def bound(env: str, workflow: str, repository: str = REPOSITORY, owner_name: str = REPOSITORY) -> str:
    return (
        f"claims['sub'] eq 'repo:{repository}:environment:{env}' and claims['repository_id'] eq '456789' and "
        f"claims['job_workflow_ref'] eq '{owner_name}/.github/workflows/{workflow}@refs/heads/main'"
    )


def test_each_deployer_trusts_its_environment_only_in_the_workflows_that_deploy_it(boot):
    """No exact-subject credential for a deployer: `environment:<env>` alone is in any job that names it."""
    assert not [r.name for r in boot.of_type(FIC) if r.name.startswith("deployer-")]
    assert flexible_credentials(boot) == {
        f"deployer-{env}-workflow-{w.removesuffix('.yml')}": bound(env, w)
        for env in ENVIRONMENTS
        for w in ("deploy-stack.yml", "rollout.yml")
    }


def test_the_e2e_deployer_trusts_only_the_e2e_workflow():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["e2e"] = {"resourceGroup": "rg-ml-endpoints-e2e"}
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP)
    e2e = {n: e for n, e in flexible_credentials(evaluation).items() if n.startswith("deployer-e2e-")}
    assert e2e == {"deployer-e2e-workflow-e2e": bound("e2e", "e2e.yml")}


def test_an_environment_no_workflow_runs_in_must_name_its_workflows():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["sandbox"] = {"resourceGroup": "rg-ml-endpoints-sandbox"}
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    assert "environments.sandbox.workflows: required: no workflow of this repository runs in environment 'sandbox'" in str(evaluation.error)
    assert evaluation.registrations == []
    config["azureml-endpoints-bootstrap:environments"]["sandbox"]["workflows"] = ["sandbox.yml"]
    named = evaluate("example", config=config, project_dir=BOOTSTRAP)
    assert flexible_credentials(named)["deployer-sandbox-workflow-sandbox"] == bound("sandbox", "sandbox.yml")


def test_a_legacy_repository_needs_its_numeric_id():
    config = stack_config("example", BOOTSTRAP)
    del config["azureml-endpoints-bootstrap:github"]["repositoryId"]
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    assert "github.repositoryId: required with subjectFormat legacy" in str(evaluation.error)
    assert evaluation.registrations == []


def test_immutable_subjects_are_built_when_the_repository_uses_them():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:github"].update(subjectFormat="immutable", repository="contoso@123456/azureml-endpoints@456789")
    del config["azureml-endpoints-bootstrap:github"]["repositoryId"]
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP)
    subjects = {r.name: r.inputs["subject"] for r in evaluation.of_type(FIC)}
    assert flexible_credentials(evaluation)["deployer-prod-workflow-rollout"] == bound(
        "prod", "rollout.yml", "contoso@123456/azureml-endpoints@456789", REPOSITORY
    )
    assert subjects["reader-dev-pull-requests"] == "repo:contoso@123456/azureml-endpoints@456789:pull_request"
    assert subjects["reader-prod-default-branch"] == "repo:contoso@123456/azureml-endpoints@456789:ref:refs/heads/main"


@pytest.mark.parametrize(
    "subject_format, repository, rule",
    [
        ("legacy", "contoso@123456/azureml-endpoints@456789", "owner/name (for owner@id/name@id set subjectFormat: immutable)"),
        ("immutable", "contoso/azureml-endpoints", "owner@ownerId/name@repositoryId"),
        ("immutable", "contoso@acme/azureml-endpoints@456789", "owner@ownerId/name@repositoryId"),
    ],
)
def test_at_signs_only_in_the_immutable_subject_form(subject_format, repository, rule):
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:github"].update(subjectFormat=subject_format, repository=repository)
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    assert f"azureml-endpoints-bootstrap:github.repository: '{repository}' is not valid: {rule}" in str(evaluation.error)
    assert evaluation.registrations == []


def test_applications_have_service_principals_and_no_secrets(boot):
    apps = boot.of_type("azuread:index/application:Application")
    assert len(apps) == 6  # a reader and a deployer per environment
    for app in apps:
        assert app.inputs["owners"] == [CALLER_OBJECT_ID]
        principal = boot.named(app.name.replace("-application", "-principal"))
        assert principal.inputs["clientId"] == app.outputs["clientId"]
    assert not [r for r in boot.registrations if "Password" in r.type or "Certificate" in r.type]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_reader_reads_only_its_environment(boot, env):
    assert grants_of(boot, f"reader-{env}") == {
        "reader": ("Reader", rg(f"rg-ml-endpoints-{env}")),
        "state-reader": ("Storage Blob Data Reader", boot.named(f"state-container-{env}").id),
        "secrets-key": ("Key Vault Crypto User", boot.named(f"state-key-{env}").id),
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_deployer_is_confined_to_its_environment(boot, env):
    grants = grants_of(boot, f"deployer-{env}")
    expected = {
        "contributor": ("Contributor", rg(f"rg-ml-endpoints-{env}")),
        "role-delegation": ("Role Based Access Control Administrator", rg(f"rg-ml-endpoints-{env}")),
        "state-writer": ("Storage Blob Data Contributor", boot.named(f"state-container-{env}").id),
        "secrets-key": ("Key Vault Crypto User", boot.named(f"state-key-{env}").id),
    }
    if env == "prod":  # the example's prod is private, as Pulumi.prod.yaml is: it joins that one subnet too
        expected["private-endpoint-subnet"] = ("subnet-join", EXAMPLE_PROD["privateEndpointSubnetId"])
        expected["entra-uploads"] = ("Storage Blob Data Contributor", rg("rg-ml-endpoints-prod"))
    assert grants == expected
    assert not {"Owner", "User Access Administrator"} & {role for role, _ in grants.values()}


def test_no_identity_reaches_another_environments_state_or_key(boot):
    """Every state container and key is granted to exactly its own environment's reader and deployer."""
    holders: dict[str, set[str]] = {}
    for r in boot.of_type(RA):
        if "/blobServices/default/containers/" in r.inputs["scope"] or "/keys/" in r.inputs["scope"]:
            holders.setdefault(r.inputs["scope"], set()).add(r.name.split("-roles-")[0])
    expected = {}
    for env in ENVIRONMENTS:
        expected[boot.named(f"state-container-{env}").id] = {f"reader-{env}", f"deployer-{env}"}
        expected[boot.named(f"state-key-{env}").id] = {f"reader-{env}", f"deployer-{env}"}
    assert holders == expected
    assert len({boot.named(f"state-container-{env}").inputs["containerName"] for env in ENVIRONMENTS}) == 3
    assert len({boot.named(f"state-key-{env}").inputs["keyName"] for env in ENVIRONMENTS}) == 3


# --- the deployer's delegation condition, evaluated ---------------------------------------------------
WRITE, DELETE = "Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete"
PRIVILEGED = ("Owner", "User Access Administrator", "Role Based Access Control Administrator", "Contributor")
# Built-in role ids the program never grants (Azure docs, "Azure built-in roles").
NEVER_GRANTED = {"Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"}


def role_guid(role: str) -> str:
    return invoker_role_guid(SUBSCRIPTION_ID) if role == "invoker" else {**ROLE_DEFINITIONS, **NEVER_GRANTED}[role]


def within(scope: str, assignment_scope: str) -> bool:
    scope, assignment_scope = scope.lower().rstrip("/"), assignment_scope.lower().rstrip("/")
    return scope == assignment_scope or scope.startswith(assignment_scope + "/")


OTHER_PRINCIPAL = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"


def may(boot, env: str, action: str, role: str, principal_type: str, scope: str | None = None, principal: str = OTHER_PRINCIPAL) -> bool:
    """Whether deployer-<env> may write or delete this role assignment: its RBAC Administrator assignment
    must cover the scope, and its condition must allow the request (attributes as ARM offers them)."""
    assignment = boot.named(f"deployer-{env}-roles-role-delegation").inputs
    target = scope or rg(f"rg-ml-endpoints-{env}")
    attributes = {
        "Microsoft.Authorization/roleAssignments:RoleDefinitionId": [role_guid(role)],
        "Microsoft.Authorization/roleAssignments:PrincipalType": [principal_type],
        "Microsoft.Authorization/roleAssignments:PrincipalId": [principal],
    }
    request = Request(action, request=attributes if action == WRITE else {}, resource=attributes if action == DELETE else {})
    return within(target, assignment["scope"]) and evaluate_condition(assignment["condition"], request)


@pytest.mark.parametrize("action", [WRITE, DELETE])
def test_the_deployer_may_grant_and_remove_exactly_the_products_roles(boot, action):
    allowed = {
        ("invoker", "Group"),
        ("invoker", "ServicePrincipal"),
        ("AcrPull", "ServicePrincipal"),
        ("Storage Blob Data Reader", "ServicePrincipal"),
    }
    for role in ("invoker", "AcrPull", "Storage Blob Data Reader", *PRIVILEGED):
        for principal_type in ("User", "Group", "ServicePrincipal"):
            assert may(boot, "dev", action, role, principal_type) == ((role, principal_type) in allowed), (role, principal_type)


@pytest.mark.parametrize("action", [WRITE, DELETE])
def test_the_deployer_never_grants_to_or_removes_from_itself(boot, action):
    """Else it could give itself AcrPull, the invoker or (createsWorkspace) Key Vault Administrator, and keep them."""
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["dev"]["createsWorkspace"] = True
    widened = evaluate("example", config=config, project_dir=BOOTSTRAP)
    for evaluation in (boot, widened):
        itself = evaluation.named("deployer-dev-principal").outputs["objectId"]
        for role in ("invoker", "AcrPull", "Storage Blob Data Reader"):
            assert may(evaluation, "dev", action, role, "ServicePrincipal")
            assert not may(evaluation, "dev", action, role, "ServicePrincipal", principal=itself)
            assert not may(evaluation, "dev", action, role, "ServicePrincipal", principal=itself.upper())
        # Another environment's deployer is just another service principal, in a resource group this one cannot reach.
        assert may(
            evaluation,
            "dev",
            action,
            "AcrPull",
            "ServicePrincipal",
            principal=evaluation.named("deployer-prod-principal").outputs["objectId"],
        )
    assert not may(
        widened,
        "dev",
        action,
        "Key Vault Administrator",
        "ServicePrincipal",
        principal=widened.named("deployer-dev-principal").outputs["objectId"],
    )


def test_creating_the_workspace_in_prod_is_an_explicit_override():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["prod"]["createsWorkspace"] = True
    refused = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    assert "environments.prod.createsWorkspace: prod is protected" in str(refused.error) and "createsWorkspaceOverride: true" in str(
        refused.error
    )
    assert refused.registrations == []
    config["azureml-endpoints-bootstrap:environments"]["prod"]["createsWorkspaceOverride"] = True
    accepted = evaluate("example", config=config, project_dir=BOOTSTRAP)
    assert may(accepted, "prod", WRITE, "Key Vault Administrator", "ServicePrincipal")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["azureml-endpoints-bootstrap:environments"]["dev"].update(resourceGroup="RG-Pulumi-State"),
            "environments.dev.resourceGroup: 'RG-Pulumi-State' is already state.resourceGroup",
        ),
        (
            lambda c: c["azureml-endpoints-bootstrap:environments"]["prod"].update(resourceGroup="rg-ml-endpoints-dev"),
            "environments.prod.resourceGroup: 'rg-ml-endpoints-dev' is already environments.dev.resourceGroup",
        ),
    ],
)
def test_overlapping_resource_groups_are_refused(change, message):
    """A dev deployer with Contributor on the state group could turn shared keys on and read prod's state."""
    config = stack_config("example", BOOTSTRAP)
    change(config)
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    assert message in str(evaluation.error)
    assert evaluation.registrations == []


def test_an_environment_that_creates_its_workspace_may_also_grant_the_workspace_identity_roles():
    """Only with createsWorkspace, only to service principals, and never Owner or User Access Administrator."""
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["dev"]["createsWorkspace"] = True
    widened = evaluate("example", config=config, project_dir=BOOTSTRAP)
    for action in (WRITE, DELETE):
        for role in ("Contributor", "Key Vault Administrator", "Storage Blob Data Contributor"):
            assert may(widened, "dev", action, role, "ServicePrincipal")
            assert not may(widened, "dev", action, role, "User") and not may(widened, "dev", action, role, "Group")
            assert not may(widened, "prod", action, role, "ServicePrincipal")  # prod did not opt in
        for role in ("Owner", "User Access Administrator", "Role Based Access Control Administrator"):
            assert not may(widened, "dev", action, role, "ServicePrincipal")


def test_an_environment_that_collects_data_may_also_grant_the_write_role_to_service_principals():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"]["prod"]["collectsData"] = True
    widened = evaluate("example", config=config, project_dir=BOOTSTRAP)
    assert may(widened, "prod", WRITE, "Storage Blob Data Contributor", "ServicePrincipal")
    assert not may(widened, "prod", WRITE, "Storage Blob Data Contributor", "Group")
    assert not may(widened, "prod", WRITE, "Contributor", "ServicePrincipal")
    assert not may(widened, "dev", WRITE, "Storage Blob Data Contributor", "ServicePrincipal")


def test_the_deployer_cannot_grant_outside_its_environment(boot):
    workspace = rg("rg-ml-endpoints-dev") + "/providers/Microsoft.MachineLearningServices/workspaces/mlw-endpoints-dev"
    assert may(boot, "dev", WRITE, "invoker", "Group", workspace)
    for scope in (rg("rg-ml-endpoints-prod"), rg("rg-ml-endpoints-dev-other"), f"/subscriptions/{SUBSCRIPTION_ID}", rg("rg-pulumi-state")):
        assert not may(boot, "dev", WRITE, "invoker", "Group", scope), scope
        assert not may(boot, "dev", WRITE, "AcrPull", "ServicePrincipal", scope), scope


def test_the_condition_is_grouped_and_names_only_the_products_roles(boot):
    delegation = boot.named("deployer-prod-roles-role-delegation").inputs
    assert delegation["conditionVersion"] == "2.0"
    named = set(GUID.findall(delegation["condition"]))
    itself = boot.named("deployer-prod-principal").outputs["objectId"]
    assert named == {ROLE_DEFINITIONS["Storage Blob Data Reader"], ROLE_DEFINITIONS["AcrPull"], invoker_role_guid(SUBSCRIPTION_ID), itself}
    parse(delegation["condition"])  # every group joins at most two expressions
    assert "ForAnyOfAllValues" not in delegation["condition"]


def test_the_evaluator_reads_microsofts_own_example_as_documented():
    """Microsoft's "Constrain roles and principal types" example (Backup Contributor/Reader to users or groups)."""
    backup_contributor, backup_reader = "5e467623-bb1f-42f4-a55d-6e525e11384b", "a795c7a0-d4a2-40c1-ae25-d81f01202912"
    example = (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{backup_contributor}, {backup_reader}}} "
        "AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'Group'}))"
    )

    def write(role: str, principal_type: str) -> Request:
        return Request(
            WRITE,
            request={
                "Microsoft.Authorization/roleAssignments:RoleDefinitionId": [role],
                "Microsoft.Authorization/roleAssignments:PrincipalType": [principal_type],
            },
        )

    assert evaluate_condition(example, write(backup_reader, "Group"))
    assert evaluate_condition(example, write(backup_contributor.upper(), "user"))
    assert not evaluate_condition(example, write(backup_reader, "ServicePrincipal"))
    assert not evaluate_condition(example, write(NEVER_GRANTED["Owner"], "User"))
    assert evaluate_condition(example, Request(DELETE))  # the write branch says nothing about deletes
    # The operator the bootstrap used to have: one principal type can never equal both values.
    all_values = example.replace("ForAnyOfAnyValues:StringEqualsIgnoreCase", "ForAnyOfAllValues:StringEqualsIgnoreCase")
    assert not evaluate_condition(all_values, write(backup_reader, "Group"))


def test_the_evaluator_refuses_an_ungrouped_chain():
    with pytest.raises(ConditionSyntaxError, match="add parentheses"):
        parse("(!(ActionMatches{'a'})) OR (ActionMatches{'b'}) OR (ActionMatches{'c'})")
    assert parse("(!(ActionMatches{'a'})) OR ((ActionMatches{'b'}) OR (ActionMatches{'c'}))")


def test_the_invoker_role_can_only_score(boot):
    role = boot.named("invoker-role").inputs
    assert role["roleDefinitionId"] == invoker_role_guid(SUBSCRIPTION_ID)
    assert role["permissions"] == [{"actions": ["Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"]}]
    assert role["assignableScopes"] == [f"/subscriptions/{SUBSCRIPTION_ID}"]
    assert boot.outputs["invokerRoleDefinitionId"].endswith(invoker_role_guid(SUBSCRIPTION_ID))


def test_state_backend(boot):
    account = boot.named("state-account")
    assert account.inputs["allowSharedKeyAccess"] is False and account.inputs["minimumTlsVersion"] == "TLS1_2"
    assert account.inputs["allowBlobPublicAccess"] is False and account.protect
    assert account.inputs["defaultToOAuthAuthentication"] is True
    vault = boot.named("state-vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] and vault["enablePurgeProtection"] and vault["softDeleteRetentionInDays"] == 90
    vault_host = boot.named("state-vault").outputs["properties"]["vaultUri"].split("://")[1].rstrip("/")
    for env in ENVIRONMENTS:
        assert boot.named(f"state-key-{env}").inputs["properties"]["kty"] == "RSA"
        assert boot.named(f"state-container-{env}").inputs["publicAccess"] == "None"
        assert boot.outputs["backendUrls"][env] == f"azblob://pulumi-state-{env}"
        # Built from the vault URI Azure returns, so it holds that cloud's vault host.
        assert boot.outputs["secretsProviderUrls"][env] == f"azurekeyvault://{vault_host}/keys/pulumi-secrets-{env}"


def test_state_survives_overwrites_and_deletes(boot):
    blob_service = boot.named("state-blob-service")
    assert blob_service.inputs["accountName"] == boot.named("state-account").inputs["accountName"]
    assert blob_service.inputs["isVersioningEnabled"] is True
    assert blob_service.inputs["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert blob_service.inputs["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    lock = boot.named("state-lock")
    assert lock.inputs["level"] == "CanNotDelete" and lock.inputs["resourceGroupName"] == "rg-pulumi-state" and lock.protect
    for env in ENVIRONMENTS:  # containers are created once the retention policies are in force
        assert blob_service.urn in boot.named(f"state-container-{env}").dependencies


def test_outputs_carry_every_id_the_workflows_need(boot):
    assert set(boot.outputs) >= {
        "tenantId",
        "subscriptionId",
        "readerClientIds",
        "deployerClientIds",
        "backendUrls",
        "secretsProviderUrls",
        "stateStorageAccount",
    }
    for output in ("readerClientIds", "deployerClientIds", "backendUrls", "secretsProviderUrls"):
        assert set(boot.outputs[output]) == set(ENVIRONMENTS), output
    assert len(set(boot.outputs["readerClientIds"].values()) | set(boot.outputs["deployerClientIds"].values())) == 6


def test_the_policy_pack_accepts_the_bootstrap_with_its_config_and_not_as_a_workload(boot):
    with PolicyPackServer() as pack:
        assert pack.check(boot.registrations, load_policy_config("bootstrap")) == []
        as_workload = {v.policy for v in pack.check(boot.registrations, load_policy_config("dev")) if v.level == "mandatory"}
        # As a workload stack, Contributor and Storage Blob Data Contributor may go to a created workspace's identity only.
        assert as_workload == {"role-assignment-allowed-roles", "role-assignment-resource-scope", "workspace-identity-roles"}
        without_condition = [r for r in boot.registrations]
        delegation = next(r for r in without_condition if r.name == "deployer-dev-roles-role-delegation")
        delegation.inputs.pop("condition")
        (violation,) = [v for v in pack.check(without_condition, load_policy_config("bootstrap")) if v.level == "mandatory"]
        assert violation.resource_name == "deployer-dev-roles-role-delegation" and "without a condition" in violation.message


# --- private environments: the deployer joins the platform team's subnet ----------------------------------
# The landing zone's network in its own subscription, as hub-and-spoke landing zones place it.
NETWORK_SUBSCRIPTION = "11111111-1111-4111-8111-111111111111"
SUBNET = f"/subscriptions/{NETWORK_SUBSCRIPTION}/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-pe"


EXAMPLE_PROD = stack_config("example", BOOTSTRAP)["azureml-endpoints-bootstrap:environments"]["prod"]


def private_prod(**prod) -> dict:
    """The example with prod public (neither private key), then `prod` applied."""
    config = stack_config("example", BOOTSTRAP)
    environment = config["azureml-endpoints-bootstrap:environments"]["prod"]
    for key in ("privateNetworking", "privateEndpointSubnetId"):
        environment.pop(key, None)
    environment.update(prod)
    return config


def test_the_examples_prod_joins_the_subnet_its_stack_names():
    """Bootstrap reads no workload stack, so the two copies of the id are kept equal here (the product's prod, as
    the fixture project holds it: a team's own root stacks are judged by `check`, not by product tests)."""
    stack = stack_config("prod", project_dir())["azureml-endpoints:network"]
    assert EXAMPLE_PROD["privateNetworking"] is True
    assert EXAMPLE_PROD["privateEndpointSubnetId"] == stack["privateEndpointSubnetId"]


def test_a_private_environments_deployer_joins_the_subnet_and_uploads_with_entra_nothing_more():
    private = evaluate("example", config=private_prod(privateNetworking=True, privateEndpointSubnetId=SUBNET), project_dir=BOOTSTRAP)
    role = private.named("subnet-join-role").inputs
    assert role["roleDefinitionId"] == subnet_join_role_guid(SUBSCRIPTION_ID)
    # Azure's "Azure RBAC permissions for Azure Private Link": read the subnet and join it; no write, no delete.
    assert role["permissions"] == [
        {"actions": ["Microsoft.Network/virtualNetworks/subnets/read", "Microsoft.Network/virtualNetworks/subnets/join/action"]}
    ]
    assert role["assignableScopes"] == sorted([f"/subscriptions/{SUBSCRIPTION_ID}", f"/subscriptions/{NETWORK_SUBSCRIPTION}"])
    prod = grants_of(private, "deployer-prod")
    assert prod.pop("private-endpoint-subnet") == ("subnet-join", SUBNET)
    # Its stack's accounts refuse shared keys: the uploads need the data role, on the group the accounts are made in.
    assert prod.pop("entra-uploads") == ("Storage Blob Data Contributor", rg("rg-ml-endpoints-prod"))
    assert prod == grants_of(evaluate("example", config=private_prod(), project_dir=BOOTSTRAP), "deployer-prod")  # the rest unchanged
    assert not {"private-endpoint-subnet", "entra-uploads"} & set(grants_of(private, "deployer-dev"))  # dev did not opt in
    grant = private.named("deployer-prod-roles-private-endpoint-subnet")
    assert private.named("subnet-join-role").urn in grant.dependencies  # assigned once the role exists
    with PolicyPackServer() as pack:
        assert pack.check(private.registrations, load_policy_config("bootstrap")) == []
        grant.inputs["scope"] = rg("rg-network")
        wider = {v.policy: v.message for v in pack.check(private.registrations, load_policy_config("bootstrap")) if v.level == "mandatory"}
        assert set(wider) == {"role-assignment-allowed-roles", "role-assignment-resource-scope"}
        assert "grant it on the one subnet the endpoints join" in wider["role-assignment-allowed-roles"]


def test_a_public_bootstrap_has_no_subnet_role():
    public = evaluate("example", config=private_prod(), project_dir=BOOTSTRAP)
    assert not [r for r in public.registrations if r.name == "subnet-join-role" or r.name.endswith("-private-endpoint-subnet")]


@pytest.mark.parametrize(
    ("prod", "message"),
    [
        ({"privateNetworking": True}, "environments.prod: privateNetworking needs privateEndpointSubnetId"),
        ({"privateEndpointSubnetId": SUBNET}, "environments.prod: privateEndpointSubnetId applies only with privateNetworking: true"),
        (
            {"privateNetworking": True, "privateEndpointSubnetId": "/subscriptions/x/subnets/y"},
            "environments.prod.privateEndpointSubnetId: '/subscriptions/x/subnets/y' is not valid: a subnet's ARM id",
        ),
    ],
)
def test_private_networking_names_its_subnet(prod, message):
    evaluation = evaluate("example", config=private_prod(**prod), project_dir=BOOTSTRAP, raise_errors=False)
    assert message in str(evaluation.error)
    assert evaluation.registrations == []


def test_bad_bootstrap_config_is_refused_before_anything_exists():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:github"]["repository"] = "not a repo"
    config["azureml-endpoints-bootstrap:state"]["storageAccount"] = "Bad_Name"
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    message = str(evaluation.error)
    assert "azureml-endpoints-bootstrap:github.repository: 'not a repo' is not valid: owner/name" in message
    assert "azureml-endpoints-bootstrap:state.storageAccount: 'Bad_Name' is not valid" in message
    assert evaluation.registrations == []


def test_a_per_environment_name_that_breaks_azures_rules_is_refused():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:state"]["container"] = "a" * 60
    config["azureml-endpoints-bootstrap:environments"]["prod-"] = {"resourceGroup": "rg-x"}
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    message = str(evaluation.error)
    assert f"azureml-endpoints-bootstrap:environments.dev: its state container '{'a' * 60}-dev'" in message
    assert evaluation.registrations == []


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_stack_encrypts_with_its_environments_key_never_a_passphrase(stack):
    """Without `secretsprovider:` the CLI creates a passphrase provider for a DIY backend (pulumi/pulumi#17236)."""
    document = yaml.safe_load((project_dir() / f"Pulumi.{stack}.yaml").read_text())
    state = stack_config("example", BOOTSTRAP)["azureml-endpoints-bootstrap:state"]
    environment = document["config"]["azureml-endpoints:environment"]
    assert re.fullmatch(
        rf"azurekeyvault://{state['keyVault']}\.[a-z0-9.-]+/keys/{state['keyName']}-{environment}", document.get("secretsprovider", "")
    ), stack
    assert "encryptionsalt" not in document  # the passphrase provider's mark
    assert environment in stack_config("example", BOOTSTRAP)["azureml-endpoints-bootstrap:environments"]


# --- who touched state: resource logs and the decrypt alert ----------------------------------------------
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"


def test_the_state_vault_and_blob_service_log_every_category_to_log_analytics(boot):
    workspace = boot.named("audit-logs")
    assert workspace.inputs["resourceGroupName"] == "rg-pulumi-state" and workspace.protect
    targets = {r.inputs["resourceUri"]: r.inputs for r in boot.of_type(DIAGNOSTICS)}
    account = boot.named("state-account").id
    assert set(targets) == {boot.named("state-vault").id, f"{account}/blobServices/default"}
    for setting in targets.values():
        assert setting["workspaceId"] == workspace.id
        assert setting["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert boot.outputs["auditWorkspaceId"] == workspace.id


def test_an_existing_log_analytics_workspace_is_used_by_id():
    existing = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central"
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:logs"] = {"workspaceId": existing}
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP)
    assert not evaluation.of_type("azure-native:operationalinsights:Workspace")
    assert {r.inputs["workspaceId"] for r in evaluation.of_type(DIAGNOSTICS)} == {existing}
    assert evaluation.named("audit-decrypt-alert").inputs["scopes"] == [existing]


def test_a_decrypt_by_prods_reader_outside_the_drift_hour_alerts(boot):
    rule = boot.named("audit-decrypt-alert").inputs
    assert rule["kind"] == "LogAlert" and rule["scopes"] == [boot.named("audit-logs").id]
    (condition,) = rule["criteria"]["allOf"]
    assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
    query = condition["query"]
    # prod's reader only: dev and staging readers decrypt on every pull request by design.
    assert f'"{boot.outputs["readerClientIds"]["prod"]}"' in query
    assert boot.outputs["readerClientIds"]["dev"] not in query and boot.outputs["readerClientIds"]["staging"] not in query
    assert 'OperationName in ("KeyDecrypt", "KeyUnwrap")' in query
    drift_hour = int(yaml.safe_load((REPO / ".github/workflows/drift.yml").read_text())[True]["schedule"][0]["cron"].split()[1])
    assert f"hourofday(TimeGenerated) !in ({drift_hour})" in query


def test_the_state_keys_notify_before_they_are_due_and_never_rotate_themselves(boot):
    """A versionless azurekeyvault:// URL cannot decrypt after an automatic rotation (pulumi/pulumi#22338)."""
    for env in ENVIRONMENTS:
        policy = boot.named(f"state-key-{env}").inputs["properties"]["rotationPolicy"]
        assert policy["attributes"] == {"expiryTime": "P2Y"}
        assert policy["lifetimeActions"] == [{"action": {"type": "notify"}, "trigger": {"timeAfterCreate": "P1Y"}}]


# --- landing-zone waivers: the platform team exempts an environment from members that refuse the product ------
ASSIGNMENT = "/providers/Microsoft.Management/managementGroups/contoso-landingzones/providers/Microsoft.Authorization/policyAssignments/Enforce-GR-MachineLearning"
EXEMPTION = "azure-native:authorization:PolicyExemption"


def with_exemptions(env: str, *exemptions: dict) -> dict:
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:environments"][env]["landingZoneExemptions"] = list(exemptions)
    return config


LEGACY_MODE_WAIVER = {
    "policyAssignmentId": ASSIGNMENT,
    "policyDefinitionReferenceIds": ["Deny-ML-Legacy-Mode"],
    "justification": "Managed online endpoints need the v2 API, which V1 legacy mode disables",
    "expiresOn": "2027-06-30T00:00:00+02:00",
}


def test_a_waiver_is_one_exemption_on_the_environments_resource_group():
    waived = evaluate("example", config=with_exemptions("dev", LEGACY_MODE_WAIVER), project_dir=BOOTSTRAP)
    (exemption,) = waived.of_type(EXEMPTION)
    assert exemption.inputs == {
        "policyExemptionName": exemption.inputs["policyExemptionName"],
        "scope": rg("rg-ml-endpoints-dev"),
        "policyAssignmentId": ASSIGNMENT,
        "policyDefinitionReferenceIds": ["Deny-ML-Legacy-Mode"],
        "exemptionCategory": "Waiver",
        "displayName": "azureml-endpoints dev: Deny-ML-Legacy-Mode",
        "description": LEGACY_MODE_WAIVER["justification"],
        "expiresOn": "2027-06-29T22:00:00Z",  # in UTC, as ARM takes it
        "assignmentScopeValidation": "Default",  # azure-native's default: the group must lie under the assignment
    }
    name = exemption.inputs["policyExemptionName"]
    assert re.fullmatch(r"azureml-endpoints-dev-[0-9a-f]{12}", name) and len(name) <= 64
    assert waived.outputs["landingZoneExemptionIds"] == {
        name: f"{rg('rg-ml-endpoints-dev')}/providers/Microsoft.Authorization/policyExemptions/{name}"
    }
    # Adding a second assignment's waiver, or one to another environment, renames nothing.
    other = {**LEGACY_MODE_WAIVER, "policyAssignmentId": ASSIGNMENT.replace("contoso-landingzones", "contoso-sandboxes")}
    more = with_exemptions("dev", other, LEGACY_MODE_WAIVER)
    more["azureml-endpoints-bootstrap:environments"]["staging"]["landingZoneExemptions"] = [LEGACY_MODE_WAIVER]
    names = {r.inputs["policyExemptionName"]: r.name for r in evaluate("example", config=more, project_dir=BOOTSTRAP).of_type(EXEMPTION)}
    assert names[name] == exemption.name and len(names) == 3
    with PolicyPackServer() as pack:  # the preview-only API version is a documented exception
        assert pack.check(waived.registrations, load_policy_config("bootstrap")) == []


def test_no_waiver_no_exemption(boot):
    assert boot.of_type(EXEMPTION) == [] and boot.outputs["landingZoneExemptionIds"] == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"policyDefinitionReferenceIds": ["Deny-ML-Legacy-Mod"]},
            "environments.dev.landingZoneExemptions[0].policyDefinitionReferenceIds: 'Deny-ML-Legacy-Mod' is not a member of "
            "Enforce-Guardrails-MachineLearning; did you mean 'Deny-ML-Legacy-Mode'?",
        ),
        (
            {"policyDefinitionReferenceIds": []},
            "environments.dev.landingZoneExemptions[0].policyDefinitionReferenceIds: List should have at least 1 item",
        ),
        (
            {"policyAssignmentId": "Enforce-GR-MachineLearning"},
            "environments.dev.landingZoneExemptions[0].policyAssignmentId: 'Enforce-GR-MachineLearning' is not valid: a policy assignment's ARM id",
        ),
        (
            {"expiresOn": "2027-06-30T00:00:00"},
            "environments.dev.landingZoneExemptions[0].expiresOn: must name its time zone (UTC: end it with Z)",
        ),
        (
            {"justification": None},
            "environments.dev.landingZoneExemptions[0].justification: must not be empty: give a value or remove the key",
        ),
        ({"expiresOn": "next summer"}, "environments.dev.landingZoneExemptions[0].expiresOn: 'next summer' is not an ISO 8601 time"),
    ],
)
def test_a_bad_waiver_is_refused_at_its_key(change, message):
    evaluation = evaluate(
        "example", config=with_exemptions("dev", {**LEGACY_MODE_WAIVER, **change}), project_dir=BOOTSTRAP, raise_errors=False
    )
    assert message in str(evaluation.error)
    assert evaluation.registrations == []


def test_one_waiver_entry_per_assignment():
    evaluation = evaluate(
        "example", config=with_exemptions("dev", LEGACY_MODE_WAIVER, LEGACY_MODE_WAIVER), project_dir=BOOTSTRAP, raise_errors=False
    )
    assert "environments.dev.landingZoneExemptions: one entry per policy assignment" in str(evaluation.error)
