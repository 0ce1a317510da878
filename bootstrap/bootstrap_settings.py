"""Bootstrap settings: read once, validated (key named on every error) before any resource exists."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.config_model import ConfigModel, matches, read_config, validate_config
from components.settings import BLOB_CONTAINER_NAME, RESOURCE_GROUP_NAME, STORAGE_ACCOUNT_NAME

NAMESPACE = "azureml-endpoints-bootstrap"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
KEY_VAULT = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
KEY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class GitHub(ConfigModel):
    repository: str = Field(description="owner/name of the repository whose workflows sign in.")
    drift_branch: str = Field("main", description="Branch the scheduled drift workflow runs on.")
    audience: str = Field("api://AzureADTokenExchange", description="Token audience Entra expects in this cloud.")

    _repository = field_validator("repository")(matches(GITHUB_REPOSITORY, "owner/name"))
    _branch = field_validator("drift_branch")(matches(BRANCH, "a branch name"))


class State(ConfigModel):
    resource_group: str
    storage_account: str = Field(description="Globally unique; holds the azblob:// state.")
    container: str = "pulumi-state"
    key_vault: str = Field(description="Globally unique; holds the azurekeyvault:// secrets key.")
    key_name: str = "pulumi-secrets"

    _rg = field_validator("resource_group")(matches(RESOURCE_GROUP_NAME, "1-90 letters, digits, '-', '_', '.', '(', ')'"))
    _account = field_validator("storage_account")(matches(STORAGE_ACCOUNT_NAME, "3-24 lowercase letters and digits"))
    _container = field_validator("container")(matches(BLOB_CONTAINER_NAME, "3-63 lowercase letters, digits, single '-'"))
    _vault = field_validator("key_vault")(matches(KEY_VAULT, "3-24 letters, digits, single '-', starting with a letter"))
    _key = field_validator("key_name")(matches(KEY_NAME, "1-127 letters, digits, '-'"))


class Environment(ConfigModel):
    resource_group: str = Field(description="The environment's resource group (the workspace's).")

    _rg = field_validator("resource_group")(matches(RESOURCE_GROUP_NAME, "1-90 letters, digits, '-', '_', '.', '(', ')'"))


class BootstrapSettings(ConfigModel):
    github: GitHub
    location: str
    state: State
    environments: dict[str, Environment] = Field(min_length=1)
    tags: dict[str, str]

    @field_validator("environments")
    @classmethod
    def _names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            matches(ENVIRONMENT, "lowercase letters, digits, '-' (a GitHub environment name)")(name)
        return value

    @field_validator("tags")
    @classmethod
    def _owner(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        return value


def load(config) -> BootstrapSettings:
    """Reads and validates the bootstrap config, or raises SettingsError naming every bad key."""
    return validate_config(BootstrapSettings, NAMESPACE, read_config(config, BootstrapSettings))
