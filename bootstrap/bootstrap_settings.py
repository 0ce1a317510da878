"""Bootstrap settings: read once, validated (key named on every error) before any resource exists."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.azure.landing_zone import INITIATIVE
from azureml_endpoints.azure.landing_zone import POLICIES as LANDING_ZONE_POLICIES
from azureml_endpoints.cli.github_environments import ENVIRONMENTS as WORKFLOW_ENVIRONMENTS
from azureml_endpoints.config.base import ConfigModel, KeyedErrors, did_you_mean, matches, quote, read_config, validate_config
from azureml_endpoints.config.names import BLOB_CONTAINER_NAME, BlobContainerName, KeyVaultName, ResourceGroupName, StorageAccountName
from azureml_endpoints.config.network import SubnetId
from azureml_endpoints.config.operability import LogAnalyticsConfig

NAMESPACE = "azureml-endpoints-bootstrap"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
# GitHub's OIDC reference, "Immutable subject claims": repositories created after 2026-07-15 (and older ones
# renamed, transferred or opted in) send `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`.
GITHUB_REPOSITORY_IMMUTABLE = re.compile(r"^[A-Za-z0-9-]{1,39}@[0-9]{1,20}/[A-Za-z0-9._-]{1,100}@[0-9]{1,20}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
KEY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
ACTION_GROUP_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/microsoft\.insights/actionGroups/[A-Za-z0-9_-]{1,260}", re.I
)
REPOSITORY_ID = re.compile(r"[0-9]{1,20}")
WORKFLOW_FILE = re.compile(r"[A-Za-z0-9._-]{1,100}\.ya?ml")
# "Azure Policy assignment structure": an assignment lives at a management group, a subscription or a resource group.
POLICY_ASSIGNMENT_ID = re.compile(
    r"(/providers/Microsoft\.Management/managementGroups/[^/]{1,90}|/subscriptions/[0-9a-fA-F-]{36}(/resourceGroups/[^/]{1,90})?)"
    r"/providers/Microsoft\.Authorization/policyAssignments/[^/]{1,128}",
    re.I,
)


class GitHub(ConfigModel):
    # Declared before `repository`, whose rule depends on it.
    subject_format: Literal["legacy", "immutable"] = Field("legacy", description="Which subject form GitHub sends for this repository.")
    repository: str = Field(description="owner/name (legacy) or owner@ownerId/name@repoId (immutable), as the token's subject spells it.")
    repository_id: str | None = Field(
        None,
        description="The repository's numeric id (gh api repos/OWNER/NAME --jq .id): Entra's flexible federated "
        "credentials for GitHub must match it. Read from `repository` in the immutable form.",
    )
    drift_branch: str = Field("main", description="The default branch: drift, the pre-deploy previews and every deploy run there.")
    audience: str = Field("api://AzureADTokenExchange", description="Token audience Entra expects in this cloud.")

    _branch = field_validator("drift_branch")(matches(BRANCH, "a branch name"))
    _repository_id = field_validator("repository_id")(matches(REPOSITORY_ID, "the repository's numeric id"))

    @field_validator("repository")
    @classmethod
    def _in_its_subject_format(cls, value: str, info: ValidationInfo) -> str:
        """`@` only in the immutable form, and the immutable form always carries both numeric ids."""
        if info.data.get("subject_format") == "immutable":
            return matches(GITHUB_REPOSITORY_IMMUTABLE, "owner@ownerId/name@repositoryId (numeric ids), as subjectFormat is immutable")(
                value
            )
        return matches(GITHUB_REPOSITORY, "owner/name (for owner@id/name@id set subjectFormat: immutable)")(value)

    @model_validator(mode="after")
    def _repository_id_known(self) -> GitHub:
        if self.subject_format == "legacy" and self.repository_id is None:
            raise KeyedErrors(
                [
                    (
                        ("repositoryId",),
                        "required with subjectFormat legacy: the deployers' flexible federated credentials match it "
                        "(gh api repos/OWNER/NAME --jq .id prints it)",
                    )
                ]
            )
        return self

    @property
    def numeric_repository_id(self) -> str:
        return self.repository_id or self.repository.rsplit("@", 1)[1]

    @property
    def name_with_owner(self) -> str:
        """owner/name, as GitHub spells the repository in `job_workflow_ref` whatever the subject format."""
        return re.sub(r"@[0-9]+", "", self.repository)


class State(ConfigModel):
    resource_group: ResourceGroupName = Field(description="Resource group the program creates for the state account and the secrets vault.")
    storage_account: StorageAccountName = Field(description="Globally unique; holds the azblob:// state, one container per environment.")
    container: BlobContainerName = Field("pulumi-state", description="Prefix: environment <env> keeps its state in <container>-<env>.")
    key_vault: KeyVaultName = Field(description="Globally unique; holds the azurekeyvault:// secrets keys, one per environment.")
    key_name: str = Field("pulumi-secrets", description="Prefix: environment <env> encrypts with key <keyName>-<env>.")

    _key = field_validator("key_name")(matches(KEY_NAME, "1-127 letters, digits, '-'"))


class StateLogs(LogAnalyticsConfig):
    """Where the state vault's and blob service's resource logs go, and who hears of an unscheduled decrypt."""

    scheduled_run_hours_utc: list[int] = Field(
        [5],
        description="UTC hours in which the scheduled runs that decrypt with a reader start (drift.yml: 05:17); a "
        "decrypt by prod's reader in any other hour raises the alert.",
    )
    action_group_id: str | None = Field(None, description="ARM id of an existing action group the decrypt alert notifies.")

    _action_group = field_validator("action_group_id")(matches(ACTION_GROUP_ID, "a full ARM id of a microsoft.insights/actionGroups"))

    @field_validator("scheduled_run_hours_utc")
    @classmethod
    def _hours(cls, value: list[int]) -> list[int]:
        if not value or any(not 0 <= h <= 23 for h in value):
            raise ValueError("one or more hours 0-23")
        return value


class LandingZoneExemption(ConfigModel):
    """A waiver, granted by whoever runs bootstrap (the platform team), of members of the landing zone's
    Enforce-Guardrails-MachineLearning assignment on one environment's resource group: for the members that refuse
    what this product is made of (Deny-ML-Legacy-Mode, docs/private-networking.md#landing-zone-report). Azure's "Azure
    Policy exemption structure"; the deployer cannot grant it (Contributor has no Microsoft.Authorization writes)."""

    policy_assignment_id: str = Field(
        description=f"ARM id of the landing zone's assignment of {INITIATIVE} (at a management group, subscription or resource group)."
    )
    policy_definition_reference_ids: list[str] = Field(
        min_length=1,
        description=f"The members waived, by their policyDefinitionReferenceId in {INITIATIVE} (for example Deny-ML-Legacy-Mode).",
    )
    justification: str = Field(description="Why the waiver is granted: the exemption's description, read in the compliance view.")
    expires_on: str | None = Field(
        None, description="When the waiver ends (ISO 8601 with its time zone: 2027-06-30T00:00:00Z); after it the members apply again."
    )

    _assignment = field_validator("policy_assignment_id")(matches(POLICY_ASSIGNMENT_ID, "a policy assignment's ARM id"))

    @field_validator("policy_definition_reference_ids")
    @classmethod
    def _members_of_the_initiative(cls, value: list[str]) -> list[str]:
        known = [p.reference_id for p in LANDING_ZONE_POLICIES]
        for reference in value:
            if reference not in known:
                raise ValueError(f"{quote(reference)} is not a member of {INITIATIVE}{did_you_mean(reference, known)}")
        if len(set(value)) != len(value):
            raise ValueError("names a member twice")
        return value

    @field_validator("expires_on")
    @classmethod
    def _a_time_with_its_zone(cls, value: str | None) -> str | None:
        """Stored as ARM takes it, yyyy-MM-ddTHH:mm:ssZ in UTC."""
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{quote(value)} is not an ISO 8601 time (2027-06-30T00:00:00Z)") from None
        if moment.utcoffset() is None:
            raise ValueError("must name its time zone (UTC: end it with Z)")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Environment(ConfigModel):
    resource_group: ResourceGroupName = Field(description="The environment's resource group (the workspace's).")
    pull_request_previews: bool = Field(
        False,
        description="Whether same-repository pull requests may preview against this environment's real state. Their own "
        "code runs with the reader, so it can read the state and decrypt its secrets: leave prod off.",
    )

    creates_workspace: bool = Field(
        False,
        description="Whether this environment's stack creates its workspace (workspace.create): the deployer may then "
        "also grant the workspace identity's role set (Contributor, Key Vault Administrator, Storage Blob Data "
        "Contributor) to service principals in the resource group. A wider delegation: for sandboxes. Refused for a "
        "protected environment (prod) unless createsWorkspaceOverride is set too.",
    )
    creates_workspace_override: bool = Field(
        False,
        description="Accept createsWorkspace for a protected environment (prod): its deployer may then grant Key Vault "
        "Administrator and Contributor to any service principal in prod's resource group (docs/security.md).",
    )
    workflows: list[str] | None = Field(
        None,
        description="The workflow files whose jobs may sign in as this environment's deployer (each one flexible federated "
        "credential). Default: what azureml_endpoints/cli/github_environments.py lists for the environment.",
    )

    collects_data: bool = Field(
        False,
        description="Whether a deployment of this environment has a dataCollector: the deployer may then also grant "
        "Storage Blob Data Contributor to service principals (the endpoint identity, on one container).",
    )

    private_networking: bool = Field(
        False,
        description="Whether this environment's stack is private (its network key): the deployer then also holds the "
        "subnet role on privateEndpointSubnetId, to join the stack's private endpoints to the platform team's subnet, "
        "and Storage Blob Data Contributor on the resource group, to upload with Entra (docs/private-networking.md#deployer-rights).",
    )
    private_endpoint_subnet_id: SubnetId | None = Field(
        None,
        description="privateNetworking: the subnet (ARM id) of the stack's private endpoints, the stack's network.privateEndpointSubnetId.",
    )

    landing_zone_exemptions: list[LandingZoneExemption] = Field(
        [],
        description=f"Waivers of {INITIATIVE} members on the environment's resource group, each a policy exemption "
        "bootstrap creates (docs/private-networking.md#landing-zone-report).",
    )

    @field_validator("landing_zone_exemptions")
    @classmethod
    def _one_per_assignment(cls, value: list[LandingZoneExemption]) -> list[LandingZoneExemption]:
        assignments = [e.policy_assignment_id.casefold() for e in value]
        if len(set(assignments)) != len(assignments):
            raise ValueError("one entry per policy assignment: list every member it waives in that entry")
        return value

    @field_validator("workflows")
    @classmethod
    def _workflow_files(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            matches(WORKFLOW_FILE, "a workflow file name in .github/workflows (name.yml)")(name)
        if value is not None and not value:
            raise ValueError("must name at least one workflow file")
        return value

    def deploy_workflows(self, name: str) -> tuple[str, ...]:
        if self.workflows is not None:
            return tuple(self.workflows)
        return WORKFLOW_ENVIRONMENTS[name].workflows

    @model_validator(mode="after")
    def _subnet_with_private_networking(self) -> Environment:
        if self.private_networking and self.private_endpoint_subnet_id is None:
            raise ValueError("privateNetworking needs privateEndpointSubnetId, the subnet the stack's private endpoints join")
        if not self.private_networking and self.private_endpoint_subnet_id is not None:
            raise ValueError("privateEndpointSubnetId applies only with privateNetworking: true")
        return self


class BootstrapSettings(ConfigModel):
    github: GitHub = Field(description="The repository whose workflows deploy, as its OIDC tokens name it.")
    location: str = Field(description="Azure region of the state resource group, its storage account and its Key Vault.")
    state: State = Field(description="Where every environment keeps its Pulumi state and secrets key.")
    logs: StateLogs = Field(description="Where the state vault's and blob service's resource logs go, and the decrypt alert.")
    environments: dict[str, Environment] = Field(
        min_length=1, description="GitHub environment name -> what its pipeline identities may do."
    )
    tags: dict[str, str] = Field(description="Tags on every bootstrap resource; must include owner.")

    @field_validator("environments")
    @classmethod
    def _names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            matches(ENVIRONMENT, "lowercase letters, digits, '-' (a GitHub environment name)")(name)
        return value

    @model_validator(mode="after")
    def _cross_key_rules(self) -> BootstrapSettings:
        """Every violation at its own key: resource groups apart, workflows known, prod's delegation narrow, and each
        environment's container and key name (prefix-env) itself a valid name."""
        errors: list[tuple[tuple, str]] = []
        # Contributor on a shared group reaches the other environment's resources, and on the state group every
        # environment's state (it may turn shared keys back on and list them): every group has one owner.
        owners = {self.state.resource_group.casefold(): "state.resourceGroup"}
        for env, e in self.environments.items():
            owner = owners.setdefault(e.resource_group.casefold(), f"environments.{env}.resourceGroup")
            if owner != f"environments.{env}.resourceGroup":
                errors.append(
                    (
                        ("environments", env, "resourceGroup"),
                        f"'{e.resource_group}' is already {owner}: each environment needs a resource group of its own, "
                        "apart from the state's, or its deployer reaches what is not its own",
                    )
                )
            if e.workflows is None and env not in WORKFLOW_ENVIRONMENTS:
                errors.append(
                    (
                        ("environments", env, "workflows"),
                        f"required: no workflow of this repository runs in environment '{env}' "
                        f"(azureml_endpoints/cli/github_environments.py lists {', '.join(WORKFLOW_ENVIRONMENTS)})",
                    )
                )
            if e.creates_workspace and env in WORKFLOW_ENVIRONMENTS and WORKFLOW_ENVIRONMENTS[env].protected:
                if not e.creates_workspace_override:
                    errors.append(
                        (
                            ("environments", env, "createsWorkspace"),
                            f"{env} is protected: its deployer could then grant Key Vault Administrator and Contributor to "
                            "service principals there; set createsWorkspaceOverride: true to accept that "
                            "(docs/security.md#creating-the-workspace-in-prod)",
                        )
                    )
            container, key = state_container(self.state, env), state_key(self.state, env)
            if ENVIRONMENT.match(env) and not BLOB_CONTAINER_NAME.pattern.fullmatch(container):
                errors.append(
                    (
                        ("environments", env),
                        f"its state container '{container}' (state.container + '-{env}') is not a valid container name: "
                        f"{BLOB_CONTAINER_NAME.rule}",
                    )
                )
            if ENVIRONMENT.match(env) and not KEY_NAME.match(key):
                errors.append(
                    (("environments", env), f"its secrets key '{key}' (state.keyName + '-{env}') is not valid: 1-127 letters, digits, '-'")
                )
        if errors:
            raise KeyedErrors(errors)
        return self

    @field_validator("tags")
    @classmethod
    def _owner(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        return value


def state_container(state: State, environment: str) -> str:
    return f"{state.container}-{environment}"


def state_key(state: State, environment: str) -> str:
    return f"{state.key_name}-{environment}"


def load(config) -> BootstrapSettings:
    """Reads and validates the bootstrap config, or raises SettingsError naming every bad key."""
    return validate_config(BootstrapSettings, NAMESPACE, read_config(config, BootstrapSettings))
