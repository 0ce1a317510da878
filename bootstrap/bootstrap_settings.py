"""Bootstrap settings: read once, validated (key named on every error) before any resource exists."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from azureml_endpoints.config.base import ConfigModel, matches, read_config, validate_config
from azureml_endpoints.config.names import BLOB_CONTAINER_NAME, BlobContainerName, KeyVaultName, ResourceGroupName, StorageAccountName
from azureml_endpoints.config.network import SubnetId

NAMESPACE = "azureml-endpoints-bootstrap"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
# GitHub's OIDC reference, "Immutable subject claims": repositories created after 2026-07-15 (and older ones
# renamed, transferred or opted in) send `repo:OWNER@OWNER_ID/REPO@REPO_ID:...`.
GITHUB_REPOSITORY_IMMUTABLE = re.compile(r"^[A-Za-z0-9-]{1,39}@[0-9]{1,20}/[A-Za-z0-9._-]{1,100}@[0-9]{1,20}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
KEY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class GitHub(ConfigModel):
    # Declared before `repository`, whose rule depends on it.
    subject_format: Literal["legacy", "immutable"] = Field("legacy", description="Which subject form GitHub sends for this repository.")
    repository: str = Field(description="owner/name (legacy) or owner@ownerId/name@repoId (immutable), as the token's subject spells it.")
    drift_branch: str = Field("main", description="The default branch: drift and the pre-deploy previews run there.")
    audience: str = Field("api://AzureADTokenExchange", description="Token audience Entra expects in this cloud.")

    _branch = field_validator("drift_branch")(matches(BRANCH, "a branch name"))

    @field_validator("repository")
    @classmethod
    def _in_its_subject_format(cls, value: str, info: ValidationInfo) -> str:
        """`@` only in the immutable form, and the immutable form always carries both numeric ids."""
        if info.data.get("subject_format") == "immutable":
            return matches(GITHUB_REPOSITORY_IMMUTABLE, "owner@ownerId/name@repositoryId (numeric ids), as subjectFormat is immutable")(
                value
            )
        return matches(GITHUB_REPOSITORY, "owner/name (for owner@id/name@id set subjectFormat: immutable)")(value)


class State(ConfigModel):
    resource_group: ResourceGroupName = Field(description="Resource group the program creates for the state account and the secrets vault.")
    storage_account: StorageAccountName = Field(description="Globally unique; holds the azblob:// state, one container per environment.")
    container: BlobContainerName = Field("pulumi-state", description="Prefix: environment <env> keeps its state in <container>-<env>.")
    key_vault: KeyVaultName = Field(description="Globally unique; holds the azurekeyvault:// secrets keys, one per environment.")
    key_name: str = Field("pulumi-secrets", description="Prefix: environment <env> encrypts with key <keyName>-<env>.")

    _key = field_validator("key_name")(matches(KEY_NAME, "1-127 letters, digits, '-'"))


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
        "Contributor) to service principals in the resource group. A wider delegation: for sandboxes.",
    )

    collects_data: bool = Field(
        False,
        description="Whether a deployment of this environment has a dataCollector: the deployer may then also grant "
        "Storage Blob Data Contributor to service principals (the endpoint identity, on one container).",
    )

    private_networking: bool = Field(
        False,
        description="Whether this environment's stack is private (its network key): the deployer then also holds the "
        "subnet role on privateEndpointSubnetId, to join the stack's private endpoints to the platform team's subnet "
        "(docs/private-networking.md#deployer-rights).",
    )
    private_endpoint_subnet_id: SubnetId | None = Field(
        None,
        description="privateNetworking: the subnet (ARM id) of the stack's private endpoints, the stack's network.privateEndpointSubnetId.",
    )

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
    def _per_environment_names(self) -> BootstrapSettings:
        """Each environment's container and key name (prefix-env) must itself be a valid name."""
        for env in self.environments:
            container, key = state_container(self.state, env), state_key(self.state, env)
            if ENVIRONMENT.match(env) and not BLOB_CONTAINER_NAME.pattern.fullmatch(container):
                raise ValueError(
                    f"environments.{env}: its state container '{container}' (state.container + '-{env}') is not "
                    f"a valid container name: {BLOB_CONTAINER_NAME.rule}"
                )
            if ENVIRONMENT.match(env) and not KEY_NAME.match(key):
                raise ValueError(
                    f"environments.{env}: its secrets key '{key}' (state.keyName + '-{env}') is not valid: 1-127 letters, digits, '-'"
                )
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
