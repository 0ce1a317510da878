"""Workspace as code: the created workspace, its dependencies and role set, and its equivalence with a looked-up one."""

import copy
import json
import re
import uuid
from pathlib import Path

import pulumi
import pytest

from azureml_endpoints.azure.roles import ROLE_DEFINITIONS, role_assignment_name
from azureml_endpoints.cli.baseline import main as baseline_main
from azureml_endpoints.cli.baseline import merged_config, program_config, workspace_identities
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import CONFIG_NAMESPACE as NAMESPACE
from azureml_endpoints.config.stack import parse_settings
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID, TENANT_ID, ArmError
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import load_policy_config
from azureml_endpoints.pulumi_io.stack_files import stack_config
from components.workspace.info import WorkspaceInfo

RA = "azure-native:authorization:RoleAssignment"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
UAI = "azure-native:managedidentity:UserAssignedIdentity"
WS_KEY = f"{NAMESPACE}:workspace"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine sends a value not known during preview


def definition(role: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{ROLE_DEFINITIONS[role]}"


def sandbox_config() -> dict:
    return copy.deepcopy(stack_config("sandbox"))


def raw_settings(config: dict) -> dict:
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in config.items()}


def refused(config: dict) -> str:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw_settings(config))
    return str(error.value)


@pytest.fixture(scope="module")
def sandbox():
    return evaluate("sandbox")


@pytest.fixture(scope="module")
def looked_up():
    """The sandbox stack against an existing workspace of the same name (the fake Azure holds it)."""
    config = sandbox_config()
    config[WS_KEY] = {"name": config[WS_KEY]["name"], "resourceGroup": config[WS_KEY]["resourceGroup"]}
    return evaluate("sandbox", config=config)


def mandatory(violations):
    return [v for v in violations if v.level == "mandatory"]


# --- what a created workspace is made of --------------------------------------------------------------------------


def test_dependencies_are_hardened(sandbox):
    vault = sandbox.named("workspace-vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    assert vault["enableSoftDelete"] is True and vault["softDeleteRetentionInDays"] == 90
    assert vault["tenantId"] == TENANT_ID and vault["publicNetworkAccess"] == "Enabled"
    registry = sandbox.named("workspace-registry").inputs
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False
    storage = sandbox.named("workspace-storage").inputs
    assert storage["minimumTlsVersion"] == "TLS1_2" and storage["allowBlobPublicAccess"] is False
    insights = sandbox.named("workspace-insights").inputs
    assert insights["workspaceResourceId"] == sandbox.named("workspace-logs").id
    assert insights["ingestionMode"] == "LogAnalytics"


def test_workspace_is_wired_from_its_dependencies_outputs(sandbox):
    ws = sandbox.named("workspace-workspace")
    primary = sandbox.named("workspace-identity-id-mlw-sandbox")
    assert ws.inputs["storageAccount"] == sandbox.named("workspace-storage").id
    assert ws.inputs["keyVault"] == sandbox.named("workspace-vault").id
    assert ws.inputs["containerRegistry"] == sandbox.named("workspace-registry").id
    assert ws.inputs["applicationInsights"] == sandbox.named("workspace-insights").id
    assert ws.inputs["identity"] == {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": [primary.id]}
    assert ws.inputs["primaryUserAssignedIdentity"] == primary.id
    assert ws.inputs["systemDatastoresAuthMode"] == "Identity"
    assert ws.inputs["publicNetworkAccess"] == "Enabled" and ws.inputs["location"] == "westeurope"
    for prop, dependency in [
        ("storageAccount", "workspace-storage"),
        ("keyVault", "workspace-vault"),
        ("containerRegistry", "workspace-registry"),
        ("applicationInsights", "workspace-insights"),
    ]:
        assert ws.property_dependencies[prop] == [sandbox.named(dependency).urn]
    # Azure checks the primary identity's access when it creates the workspace: its roles come first.
    assert sandbox.named("workspace-identity-roles-propagation").urn in ws.dependencies


WORKSPACE_ROLE_SET = {
    ("Contributor", "workspace-workspace"),
    ("Contributor", "workspace-storage"),
    ("Contributor", "workspace-vault"),
    ("Key Vault Administrator", "workspace-vault"),
    ("Contributor", "workspace-registry"),
    ("Contributor", "workspace-insights"),
}


def workspace_grants(evaluation) -> set[tuple[str, str]]:
    by_id = {r.id: r.name for r in evaluation.registrations if r.custom}
    by_definition = {definition(role): role for role in ROLE_DEFINITIONS}
    primary = evaluation.named("workspace-identity-id-mlw-sandbox").outputs["principalId"]
    return {
        (by_definition[r.inputs["roleDefinitionId"]], by_id[r.inputs["scope"]])
        for r in evaluation.of_type(RA)
        if r.inputs["principalId"] == primary
    }


def test_primary_identity_holds_exactly_the_documents_role_set(sandbox):
    assert workspace_grants(sandbox) == WORKSPACE_ROLE_SET
    for assignment in (r for r in sandbox.of_type(RA) if r.name.startswith("workspace-identity-")):
        assert assignment.inputs["principalType"] == "ServicePrincipal"
        expected = role_assignment_name(assignment.inputs["scope"], assignment.inputs["principalId"], assignment.inputs["roleDefinitionId"])
        assert assignment.inputs["roleAssignmentName"] == expected and uuid.UUID(expected).version == 5
    # The same config asks for the same assignment names every run.
    again = evaluate("sandbox")
    assert sorted(r.inputs["roleAssignmentName"] for r in again.of_type(RA)) == sorted(
        r.inputs["roleAssignmentName"] for r in sandbox.of_type(RA)
    )


def test_studio_data_preview_adds_storage_blob_data_contributor():
    config = sandbox_config()
    config[WS_KEY]["studioDataPreview"] = True
    assert workspace_grants(evaluate("sandbox", config=config)) == WORKSPACE_ROLE_SET | {
        ("Storage Blob Data Contributor", "workspace-storage")
    }


def test_system_assigned_workspace_gets_no_identities_and_no_roles():
    config = sandbox_config()
    config[WS_KEY]["identity"] = {"type": "SystemAssigned"}
    evaluation = evaluate("sandbox", config=config)
    ws = evaluation.named("workspace-workspace")
    assert ws.inputs["identity"] == {"type": "SystemAssigned"} and "primaryUserAssignedIdentity" not in ws.inputs
    assert not [r for r in evaluation.of_type(UAI) if r.name.startswith("workspace-")]
    assert not [r for r in evaluation.of_type(RA) if r.name.startswith("workspace-")]
    assert ws.outputs["identity"]["principalId"]


def test_several_identities_one_primary():
    config = sandbox_config()
    config[WS_KEY]["identity"]["userAssignedIdentityNames"] = ["id-mlw-sandbox", "id-mlw-sandbox-jobs"]
    evaluation = evaluate("sandbox", config=config)
    ws = evaluation.named("workspace-workspace")
    ids = [evaluation.named(f"workspace-identity-{n}").id for n in ("id-mlw-sandbox", "id-mlw-sandbox-jobs")]
    assert ws.inputs["identity"]["userAssignedIdentities"] == ids
    assert set(ws.outputs["identity"]["userAssignedIdentities"]) == set(ids)
    assert ws.inputs["primaryUserAssignedIdentity"] == ids[0]
    assert workspace_grants(evaluation) == WORKSPACE_ROLE_SET  # the role set goes to the primary only


def test_the_mocks_refuse_what_arm_refuses():
    from azureml_endpoints.offline.arm_mocks import ArmMocks, ml_workspace
    from azureml_endpoints.offline.resource_types import record

    assert record(WORKSPACE).answer is ml_workspace
    m = ArmMocks()
    args = {
        "workspaceName": "w",
        "resourceGroupName": "rg",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": ["/nope"]},
    }
    with pytest.raises(ArmError, match="does not exist"):
        ml_workspace(m, args)
    with pytest.raises(ArmError, match="storageAccount"):
        ml_workspace(m, {**args, "identity": {"type": "SystemAssigned"}, "storageAccount": "/no/such/account"})
    uai = m.new_resource(
        _mock_args(
            "azure-native:managedidentity:UserAssignedIdentity",
            {"resourceName": "id1", "resourceGroupName": "rg", "location": "westeurope"},
        )
    )[0]
    with pytest.raises(ArmError, match="is not one of the workspace's identities"):
        ml_workspace(
            m,
            {
                **args,
                "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": [uai]},
                "primaryUserAssignedIdentity": "/other",
            },
        )
    _, outputs = ml_workspace(
        m,
        {**args, "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": [uai]}, "primaryUserAssignedIdentity": uai},
    )
    assert outputs["identity"]["userAssignedIdentities"][uai]["principalId"] == m.by_id[uai.lower()]["principalId"]
    assert ("rg", "w") in m.workspaces  # endpoints can now be created in it


def _mock_args(typ: str, inputs: dict):
    from pulumi.runtime.mocks import MockResourceArgs

    return MockResourceArgs(typ=typ, name="x", inputs=inputs, provider=None, resource_id=None, custom=True)


# --- one WorkspaceInfo, two ways ----------------------------------------------------------------------------------


def test_consumers_use_the_created_workspaces_registry_storage_and_datastore(sandbox):
    ws = sandbox.named("workspace-workspace")
    storage, registry = sandbox.named("workspace-storage"), sandbox.named("workspace-registry")
    container, datastore = sandbox.named("workspace-assets-container"), sandbox.named("workspace-assets-datastore")
    uai = sandbox.named("mi-uai-sandbox-identity").outputs["principalId"]
    endpoint_grants = {(r.inputs["roleDefinitionId"], r.inputs["scope"]) for r in sandbox.of_type(RA) if r.inputs["principalId"] == uai}
    assert (definition("AcrPull"), registry.id) in endpoint_grants
    assert (definition("Storage Blob Data Reader"), storage.id) in endpoint_grants
    for blob in (r for r in sandbox.of_type("azure-native:storage:Blob") if r.name.startswith("assets-")):
        assert blob.inputs["accountName"] == "stmlepsbxws" and blob.inputs["containerName"] == "assets"
        assert blob.inputs["resourceGroupName"] == "rg-ml-endpoints-sandbox"
        assert container.urn in blob.dependencies  # uploads wait for the container
    model = sandbox.named("assets-model-sklearn-regression-1").inputs["properties"]["modelUri"]
    assert re.fullmatch(
        rf"azureml://subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg-ml-endpoints-sandbox/workspaces/mlw-endpoints-sandbox"
        r"/datastores/assets/paths/pulumi-assets/model/.+",
        model,
    )
    assert datastore.urn in sandbox.named("assets-model-sklearn-regression-1").dependencies
    code = sandbox.named("assets-code-ml-onlinescoring").inputs["properties"]["codeUri"]
    assert code.startswith(storage.outputs["primaryEndpoints"]["blob"] + "assets/pulumi-assets/code/onlinescoring/")
    assert datastore.inputs["properties"]["credentials"] == {"credentialsType": "None"}
    # Everything in the workspace waits for it: its name is the created workspace's output.
    for r in sandbox.registrations:
        if r.custom and r.inputs.get("workspaceName") == "mlw-endpoints-sandbox" and r.type != WORKSPACE:
            assert ws.urn in r.dependencies, r.name


def test_created_and_looked_up_workspaces_yield_the_same_program(sandbox, looked_up):
    """Same resources and the same grants and references, each pointing at its own workspace's registry and storage."""

    def outside_workspace(evaluation):
        return {(r.type, r.name) for r in evaluation.registrations if not r.name.startswith("workspace")}

    assert outside_workspace(sandbox) == outside_workspace(looked_up)
    fake = next(iter(looked_up.mocks.workspaces.values()))
    placeholders = {
        sandbox.named("workspace-registry").id: "<registry>",
        fake.registry_id: "<registry>",
        sandbox.named("workspace-storage").id: "<workspace storage>",
        fake.storage_account_id: "<workspace storage>",
    }

    def endpoint_grants(evaluation):
        return sorted(
            (r.name, r.inputs["roleDefinitionId"], placeholders.get(r.inputs["scope"], r.inputs["scope"]))
            for r in evaluation.of_type(RA)
            if not r.name.startswith("workspace")
        )

    assert endpoint_grants(sandbox) == endpoint_grants(looked_up)
    for name in ("mi-uai-sandbox-endpoint", "mi-uai-sandbox-blue", "batch-sandbox-endpoint", "batch-sandbox-cluster-compute"):
        created, existing = sandbox.named(name).inputs, looked_up.named(name).inputs
        assert created["workspaceName"] == existing["workspaceName"] and created["location"] == existing["location"]


def test_workspace_info_helpers_are_plain_for_a_lookup_and_outputs_for_a_creation():
    plain = WorkspaceInfo(
        id="/ws",
        name="w",
        resource_group="rg",
        subscription_id="s",
        location="l",
        storage_account_id="/st",
        container_registry_id="/cr",
        datastore_name="workspaceblobstore",
        datastore_account_name="st",
        datastore_container_name="c",
        datastore_blob_endpoint="https://st.blob.x/",
        datastore_resource_group="rg",
    )
    assert plain.datastore_uri("p/q") == "azureml://subscriptions/s/resourcegroups/rg/workspaces/w/datastores/workspaceblobstore/paths/p/q"
    assert plain.datastore_blob_url("p/q") == "https://st.blob.x/c/p/q"
    created = WorkspaceInfo(**{**plain.__dict__, "name": pulumi.Output.from_input("w")})
    assert isinstance(created.datastore_uri("p"), pulumi.Output)
    assert isinstance(
        WorkspaceInfo(**{**plain.__dict__, "datastore_container_name": pulumi.Output.from_input("c")}).datastore_blob_url("p"),
        pulumi.Output,
    )


# --- config -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, key, rule",
    [
        (lambda w: w.pop("keyVaultName"), "workspace", "required: keyVaultName"),
        (lambda w: w.pop("publicNetworkAccess"), "workspace", "required: publicNetworkAccess"),
        (
            lambda w: w.update(
                containerRegistryId=f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/crexample1"
            ),
            "workspace",
            "looked-up workspaces",
        ),
        (lambda w: w.update(create=False), "workspace", "only apply when create is true"),
        (lambda w: w.update(keyVaultName="kv--double"), "workspace.keyVaultName", "single '-'"),
        (lambda w: w.update(containerRegistryName="cr-dash"), "workspace.containerRegistryName", "5-50 letters and digits"),
        (lambda w: w.update(location="West Europe"), "workspace.location", "Azure's regions list"),
        (lambda w: w.update(systemDatastoresAuthMode="Keys"), "workspace.systemDatastoresAuthMode", "'Identity'"),
        (lambda w: w["identity"].update(primaryUserAssignedIdentity="id-other"), "workspace.identity", "must name one of"),
        (lambda w: w["identity"].update(type="SystemAssigned"), "workspace.identity", "need type SystemAssigned,UserAssigned"),
        (lambda w: w["identity"].update(type="UserAssigned"), "workspace.identity.type", "SystemAssigned,UserAssigned"),
        (
            lambda w: w["identity"].update(
                userAssignedIdentityNames=["id-mi-uai-sandbox"], primaryUserAssignedIdentity="id-mi-uai-sandbox"
            ),
            "workspace.identity.userAssignedIdentityNames[0]",
            "two resources would manage one user-assigned identity",
        ),
    ],
)
def test_bad_workspace_config_is_refused_with_its_key(change, key, rule):
    config = sandbox_config()
    change(config[WS_KEY])
    message = refused(config)
    assert f"{NAMESPACE}:{key}: " in message or f"{NAMESPACE}:{key}" in message, message
    assert rule in message, message


def test_identity_may_grow_but_never_go_back():
    key = "rg-ml-endpoints-sandbox/mlw-endpoints-sandbox"
    grown = sandbox_config()
    grown[f"{NAMESPACE}:workspaceIdentityBaseline"] = {key: "SystemAssigned"}
    assert parse_settings(raw_settings(grown)).workspace.identity.type.value == "SystemAssigned,UserAssigned"

    back = sandbox_config()
    back[WS_KEY]["identity"] = {"type": "SystemAssigned"}
    back[f"{NAMESPACE}:workspaceIdentityBaseline"] = {key.upper(): "SystemAssigned,UserAssigned"}
    message = refused(back)
    assert f"{NAMESPACE}:workspace.identity.type: workspace 'mlw-endpoints-sandbox' has a SystemAssigned,UserAssigned identity" in message
    assert "cannot change it back" in message
    evaluation = evaluate("sandbox", config=back, raise_errors=False)
    assert isinstance(evaluation.error, SettingsError) and evaluation.registrations == []


# --- the pack over gRPC -------------------------------------------------------------------------------------------


def without(resources, name):
    return [r for r in resources if r.name != name]


def changed(resources, name, change):
    result = copy.deepcopy(resources)
    change(next(r for r in result if r.name == name).inputs)
    return result


def test_sandbox_passes_the_pack(pack, sandbox):
    assert mandatory(pack.check(sandbox.registrations, load_policy_config("sandbox"))) == []


@pytest.mark.parametrize(
    "resource_name, change, policy",
    [
        ("workspace-vault", lambda i: i["properties"].update(enableRbacAuthorization=False), "key-vault-rbac-authorization"),
        ("workspace-vault", lambda i: i["properties"].pop("enablePurgeProtection"), "key-vault-purge-protection"),
        ("workspace-vault", lambda i: i["properties"].pop("publicNetworkAccess"), "workspace-public-network-access-stated"),
        ("workspace-registry", lambda i: i.update(adminUserEnabled=True), "registry-admin-user-disabled"),
        ("workspace-registry", lambda i: i.update(anonymousPullEnabled=True), "registry-anonymous-pull-disabled"),
        ("workspace-workspace", lambda i: i.pop("publicNetworkAccess"), "workspace-public-network-access-stated"),
        ("workspace-workspace", lambda i: i.update(systemDatastoresAuthMode="AccessKey"), "workspace-system-datastores-identity"),
        ("workspace-storage", lambda i: i.update(allowSharedKeyAccess=True, minimumTlsVersion="TLS1_0"), "storage-min-tls-1-2"),
    ],
)
def test_insecure_workspace_variant_is_refused(pack, sandbox, resource_name, change, policy):
    violations = mandatory(pack.check(changed(sandbox.registrations, resource_name, change), load_policy_config("sandbox")))
    assert [(v.policy, v.resource_name) for v in violations] == [(policy, resource_name)]


def test_access_key_datastores_are_guidance_in_dev_and_refused_in_prod(pack, sandbox):
    access_key = changed(sandbox.registrations, "workspace-workspace", lambda i: i.update(systemDatastoresAuthMode="AccessKey"))
    (advice,) = [v for v in pack.check(access_key, load_policy_config("dev")) if v.policy == "workspace-system-datastores-identity"]
    assert advice.level == "advisory"
    (refusal,) = [v for v in pack.check(access_key, load_policy_config("prod")) if v.policy == "workspace-system-datastores-identity"]
    assert refusal.level == "mandatory" and "stores no storage keys" in refusal.message


@pytest.mark.parametrize(
    "missing",
    sorted(
        n
        for n in [
            "workspace-identity-roles-vault-administrator",
            "workspace-identity-workspace-role-workspace-contributor",
            "workspace-identity-roles-insights-contributor",
        ]
    ),
)
def test_a_missing_role_of_the_set_is_refused(pack, sandbox, missing):
    (violation,) = mandatory(pack.check(without(sandbox.registrations, missing), load_policy_config("sandbox")))
    assert violation.policy == "workspace-identity-roles" and violation.resource_name == "workspace-workspace"
    assert "lacks" in violation.message


def test_the_role_set_goes_to_no_other_principal_and_no_other_scope(pack, sandbox):
    resources = copy.deepcopy(sandbox.registrations)
    acr = next(r for r in resources if r.name == "mi-uai-sandbox-roles-registry-acr-pull")
    acr.inputs["roleDefinitionId"] = definition("Contributor")  # an endpoint identity as Contributor on the registry
    violations = {(v.policy, v.resource_name): v.message for v in mandatory(pack.check(resources, load_policy_config("sandbox")))}
    assert set(violations) == {
        ("workspace-identity-roles", acr.name),
        ("uai-endpoint-workspace-roles", "mi-uai-sandbox-endpoint"),  # and it no longer has AcrPull
    }
    assert "this principal is not one" in violations[("workspace-identity-roles", acr.name)]

    resources = copy.deepcopy(sandbox.registrations)
    admin = next(r for r in resources if r.name == "workspace-identity-roles-vault-administrator")
    registry = next(r for r in resources if r.name == "workspace-registry")
    admin.inputs["scope"], admin.property_dependencies["scope"] = registry.id, [registry.urn]  # the right principal, wrong scope
    violations = mandatory(pack.check(resources, load_policy_config("sandbox")))
    assert {(v.policy, v.resource_name) for v in violations} == {
        ("workspace-identity-roles", admin.name),  # outside its Key Vault
        ("workspace-identity-roles", "workspace-workspace"),  # and so the vault lacks Key Vault Administrator
    }


def test_workspace_identity_baseline_over_grpc(pack, sandbox, tmp_path, capsys):
    from tests.support.policies import stack_export

    export = stack_export(sandbox.registrations)
    primary = sandbox.named("workspace-identity-id-mlw-sandbox").id
    assert workspace_identities(export) == {
        "rg-ml-endpoints-sandbox/mlw-endpoints-sandbox": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": [primary]}
    }
    config = merged_config("sandbox", export)
    assert mandatory(pack.check(sandbox.registrations, config)) == []
    back = changed(
        sandbox.registrations,
        "workspace-workspace",
        lambda i: (i.update(identity={"type": "SystemAssigned"}), i.pop("primaryUserAssignedIdentity")),
    )
    violations = mandatory(pack.check(back, config))
    assert ("workspace-identity-baseline", "workspace-workspace") in {(v.policy, v.resource_name) for v in violations}
    # The program reads the same baseline from config, written by the same tool.
    state = tmp_path / "state.json"
    state.write_text(json.dumps(export))
    assert baseline_main([str(state), "--stack", "sandbox", "--program-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (
        printed
        == program_config(workspace_identities(export))
        == {"rg-ml-endpoints-sandbox/mlw-endpoints-sandbox": "SystemAssigned,UserAssigned"}
    )


# --- API versions -------------------------------------------------------------------------------------------------

SDK = Path(pulumi.__file__).resolve().parent.parent / "pulumi_azure_native"
# The one preview default among the types a created workspace uses: azure-native 3.29.0's Python SDK ships
# containerregistry.Registry only at 2023-01-01-preview (other versions need `pulumi package add`, a CLI step).
# Diagnostic settings: the one version azure-native v3 offers (docs/decisions/preview-api-exceptions.md).
PREVIEW_DEFAULTS = {
    "azure-native:containerregistry:Registry": "2023-01-01-preview",
    "azure-native:monitor:DiagnosticSetting": "2021-05-01-preview",
}


def api_version(token: str) -> str:
    _, module, type_name = token.split(":")
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", type_name).lower()
    text = (SDK / module / f"{snake}.py").read_text()
    return re.search(r"Uses Azure REST API version ([0-9a-z-]+)", text).group(1)


def test_created_types_use_the_stable_default_api_versions(sandbox):
    tokens = sorted({r.type for r in sandbox.registrations if r.custom and r.type.startswith("azure-native:")})
    versions = {t: api_version(t) for t in tokens if t not in ("azure-native:storage:Blob",)}  # Blob is azure-native's own
    assert {t: v for t, v in versions.items() if "preview" in v} == PREVIEW_DEFAULTS
    assert versions["azure-native:machinelearningservices:Workspace"] == "2025-12-01"
    assert versions["azure-native:keyvault:Vault"] == "2024-11-01"


# --- the rules alone: total over odd shapes and unknowns ----------------------------------------------------------


def test_workspace_rules_never_raise_on_odd_shapes_or_unknowns():
    from guardrails import workspace as rules
    from tests.support.policies import check

    odd = [
        {},
        {"properties": None},
        {"properties": {"enableRbacAuthorization": UNKNOWN, "enablePurgeProtection": UNKNOWN}},
        {"identity": "SystemAssigned"},
        {"identity": {"type": UNKNOWN}},
        {"resourceGroupName": UNKNOWN, "workspaceName": "w"},
    ]
    for props in odd:
        for policy in rules.POLICIES:
            if hasattr(policy, "validate") and policy.name != "workspace-identity-roles":
                for resource_type in (WORKSPACE, "azure-native:keyvault:Vault", "azure-native:containerregistry:Registry"):
                    check(policy, resource_type, props, config={"workspaces": ["not", "a", "map"]})
    unknown_vault = {"properties": {"enableRbacAuthorization": UNKNOWN, "enablePurgeProtection": UNKNOWN, "publicNetworkAccess": UNKNOWN}}
    assert check(rules.key_vault_rbac_authorization, "azure-native:keyvault:Vault", unknown_vault) == []
    assert check(rules.key_vault_purge_protected, "azure-native:keyvault:Vault", unknown_vault) == []
    assert check(rules.key_vault_purge_protected, "azure-native:keyvault:Vault", {"properties": {}}) != []
    baseline = {"workspaces": {"rg/w": {"type": "SystemAssigned,UserAssigned"}}}
    back = {"resourceGroupName": "RG", "workspaceName": "W", "identity": {"type": "SystemAssigned"}}
    assert "cannot change it" in check(rules.workspace_identity_baseline, WORKSPACE, back, config=baseline)[0]
    grown = {**back, "identity": {"type": "SystemAssigned,UserAssigned"}}
    assert check(rules.workspace_identity_baseline, WORKSPACE, grown, config={"workspaces": {"rg/w": {"type": "SystemAssigned"}}}) == []


def test_every_created_workspace_resource_is_tagged(sandbox):
    expected = {"owner": "ml-platform", "costCenter": "ml-sandbox", "environment": "dev", "stack": "sandbox", "managed-by": "pulumi"}
    created = [
        r
        for r in sandbox.registrations
        if r.custom
        and r.name.startswith("workspace-")
        and r.type
        not in (
            RA,
            "azure-native:storage:BlobContainer",
            "azure-native:machinelearningservices:Datastore",
            "azure-native:monitor:DiagnosticSetting",  # an extension resource: ARM keeps no tags on it
            "pulumi-python:dynamic:Resource",
        )
    ]
    assert {r.type for r in created} == {
        WORKSPACE,
        UAI,
        "azure-native:storage:StorageAccount",
        "azure-native:keyvault:Vault",
        "azure-native:containerregistry:Registry",
        "azure-native:operationalinsights:Workspace",
        "azure-native:applicationinsights:Component",
    }
    for resource in created:
        assert resource.inputs["tags"] == expected, resource.name


def test_prod_protects_a_created_workspace_and_its_vault():
    config = sandbox_config()
    config[f"{NAMESPACE}:environment"] = "prod"
    evaluation = evaluate("sandbox", config=config)
    assert evaluation.named("workspace-workspace").protect and evaluation.named("workspace-vault").protect
    assert not evaluate("sandbox").named("workspace-workspace").protect


def fresh_preview(resources):
    """The registrations as the first `pulumi preview` sends them: every id and principal of a resource still to be
    created is unknown wherever another resource uses it."""
    unknown = {r.id for r in resources if r.custom and r.id}
    unknown |= {r.outputs.get(k) for r in resources for k in ("principalId", "clientId") if isinstance(r.outputs.get(k), str)}

    def blank(value):
        if isinstance(value, dict):
            return {k: blank(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        return UNKNOWN if isinstance(value, str) and value in unknown else value

    result = copy.deepcopy(resources)
    for r in result:
        r.inputs = blank(r.inputs)
    return result


def test_a_first_preview_with_unknown_ids_passes_and_the_role_set_still_bites(pack, sandbox):
    preview = fresh_preview(sandbox.registrations)
    assert next(r for r in preview if r.name == "workspace-identity-roles-vault-administrator").inputs["scope"] == UNKNOWN
    assert mandatory(pack.check(preview, load_policy_config("sandbox"))) == []
    (violation,) = mandatory(pack.check(without(preview, "workspace-identity-roles-vault-administrator"), load_policy_config("sandbox")))
    assert violation.policy == "workspace-identity-roles" and "Key Vault Administrator on its Key Vault" in violation.message


def test_created_workspace_and_dependencies_send_resource_logs_and_keep_insights_keys_secret(sandbox):
    """Azure Policy: resource logs in ML workspaces and Key Vault; the blob logs of the storage account's blob service."""
    logs = sandbox.named("workspace-logs").id
    settings = {r.name: r.inputs for r in sandbox.of_type("azure-native:monitor:DiagnosticSetting") if r.name.startswith("workspace-")}
    assert {name: s["resourceUri"] for name, s in settings.items()} == {
        "workspace-workspace-diagnostics": sandbox.named("workspace-workspace").id,
        "workspace-vault-diagnostics": sandbox.named("workspace-vault").id,
        "workspace-registry-diagnostics": sandbox.named("workspace-registry").id,
        "workspace-blobs-diagnostics": sandbox.named("workspace-storage").id + "/blobServices/default",
    }
    for s in settings.values():
        assert s["workspaceId"] == logs and s["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    insights = sandbox.named("workspace-insights")
    assert set(insights.additional_secret_outputs) == {"connectionString", "instrumentationKey"}
