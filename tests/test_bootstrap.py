"""bootstrap/: the state backend and the pipeline identities, under the ARM- and Entra-like mocks."""

import re

import pytest

from components.role_assignments import ROLE_DEFINITIONS, invoker_role_guid
from tools.arm_mocks import CALLER_OBJECT_ID, SUBSCRIPTION_ID
from tools.evaluate import REPO, evaluate, stack_config
from tools.policy_client import PolicyPackServer, load_policy_config

BOOTSTRAP = REPO / "bootstrap"
RA = "azure-native:authorization:RoleAssignment"
FIC = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
REPOSITORY = "contoso/azureml-endpoints"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def boot():
    return evaluate("example", project_dir=BOOTSTRAP)


def role_name(definition_id: str) -> str:
    guid = definition_id.rsplit("/", 1)[1]
    names = {v: k for k, v in ROLE_DEFINITIONS.items()}
    return names.get(guid) or ("invoker" if guid == invoker_role_guid(SUBSCRIPTION_ID) else guid)


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


def test_federated_credentials_match_githubs_oidc_tokens(boot):
    credentials = {r.name: r.inputs for r in boot.of_type(FIC)}
    expected = {
        "reader-pull-requests": f"repo:{REPOSITORY}:pull_request",
        "reader-drift": f"repo:{REPOSITORY}:ref:refs/heads/main",
        "deployer-dev-environment-dev": f"repo:{REPOSITORY}:environment:dev",
        "deployer-staging-environment-staging": f"repo:{REPOSITORY}:environment:staging",
        "deployer-prod-environment-prod": f"repo:{REPOSITORY}:environment:prod",
    }
    assert {name: c["subject"] for name, c in credentials.items()} == expected
    for name, c in credentials.items():
        assert c["issuer"] == "https://token.actions.githubusercontent.com"
        assert c["audiences"] == ["api://AzureADTokenExchange"]
        identity = "reader" if name.startswith("reader") else "-".join(name.split("-")[:2])
        assert c["applicationId"] == boot.named(f"{identity}-application").id


def test_applications_have_service_principals_and_no_secrets(boot):
    apps = boot.of_type("azuread:index/application:Application")
    assert len(apps) == 4
    for app in apps:
        assert app.inputs["owners"] == [CALLER_OBJECT_ID]
        principal = boot.named(app.name.replace("-application", "-principal"))
        assert principal.inputs["clientId"] == app.outputs["clientId"]
    assert not [r for r in boot.registrations if "Password" in r.type or "Certificate" in r.type]


def test_the_reader_cannot_write(boot):
    assert grants_of(boot, "reader") == {
        "reader-dev": ("Reader", rg("rg-ml-endpoints-dev")),
        "reader-staging": ("Reader", rg("rg-ml-endpoints-staging")),
        "reader-prod": ("Reader", rg("rg-ml-endpoints-prod")),
        "state-reader": ("Storage Blob Data Reader", boot.named("state-container").id),
        "secrets-key": ("Key Vault Crypto User", boot.named("state-key").id),
    }


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_deployer_is_confined_to_its_environment(boot, env):
    grants = grants_of(boot, f"deployer-{env}")
    assert grants == {
        "contributor": ("Contributor", rg(f"rg-ml-endpoints-{env}")),
        "role-delegation": ("Role Based Access Control Administrator", rg(f"rg-ml-endpoints-{env}")),
        "state-writer": ("Storage Blob Data Contributor", boot.named("state-container").id),
        "secrets-key": ("Key Vault Crypto User", boot.named("state-key").id),
    }
    assert not {"Owner", "User Access Administrator"} & {role for role, _ in grants.values()}


def test_the_delegation_condition_names_only_the_products_roles(boot):
    delegation = boot.named("deployer-prod-roles-role-delegation").inputs
    assert delegation["conditionVersion"] == "2.0"
    named = set(GUID.findall(delegation["condition"]))
    assert named == {ROLE_DEFINITIONS["Storage Blob Data Reader"], ROLE_DEFINITIONS["AcrPull"], invoker_role_guid(SUBSCRIPTION_ID)}
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/write'}" in delegation["condition"]
    assert "ActionMatches{'Microsoft.Authorization/roleAssignments/delete'}" in delegation["condition"]
    assert "{'ServicePrincipal'}" in delegation["condition"]  # data roles only to service principals


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
    vault = boot.named("state-vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] and vault["enablePurgeProtection"] and vault["softDeleteRetentionInDays"] == 90
    assert boot.named("state-key").inputs["properties"]["kty"] == "RSA"
    assert boot.outputs["backendUrl"] == "azblob://pulumi-state"
    # Built from the vault URI Azure returns, so it holds that cloud's vault host.
    vault_uri = boot.named("state-vault").outputs["properties"]["vaultUri"]
    assert boot.outputs["secretsProviderUrl"] == f"azurekeyvault://{vault_uri.split('://')[1].rstrip('/')}/keys/pulumi-secrets"


def test_outputs_carry_every_id_the_workflows_need(boot):
    assert set(boot.outputs) >= {"tenantId", "subscriptionId", "readerClientId", "deployerClientIds", "backendUrl",
                                  "secretsProviderUrl", "stateStorageAccount"}
    assert set(boot.outputs["deployerClientIds"]) == {"dev", "staging", "prod"}


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


def test_bad_bootstrap_config_is_refused_before_anything_exists():
    config = stack_config("example", BOOTSTRAP)
    config["azureml-endpoints-bootstrap:github"]["repository"] = "not a repo"
    config["azureml-endpoints-bootstrap:state"]["storageAccount"] = "Bad_Name"
    evaluation = evaluate("example", config=config, project_dir=BOOTSTRAP, raise_errors=False)
    message = str(evaluation.error)
    assert "azureml-endpoints-bootstrap:github.repository: 'not a repo' is not valid: owner/name" in message
    assert "azureml-endpoints-bootstrap:state.storageAccount: 'Bad_Name' is not valid" in message
    assert evaluation.registrations == []
