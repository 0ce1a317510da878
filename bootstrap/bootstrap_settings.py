"""Bootstrap settings: read once, validated (key named on every error) before any resource exists."""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

NAMESPACE = "azureml-endpoints-bootstrap"
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
RESOURCE_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")
STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
KEY_VAULT = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
KEY_NAME = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class BootstrapError(Exception):
    pass


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


def _matches(pattern: re.Pattern, rule: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not valid: {rule}")
        return value

    return check


class GitHub(_Model):
    repository: str = Field(description="owner/name of the repository whose workflows sign in.")
    drift_branch: str = Field("main", description="Branch the scheduled drift workflow runs on.")
    audience: str = Field("api://AzureADTokenExchange", description="Token audience Entra expects in this cloud.")

    _repository = field_validator("repository")(_matches(GITHUB_REPOSITORY, "owner/name"))
    _branch = field_validator("drift_branch")(_matches(BRANCH, "a branch name"))


class State(_Model):
    resource_group: str
    storage_account: str = Field(description="Globally unique; holds the azblob:// state.")
    container: str = "pulumi-state"
    key_vault: str = Field(description="Globally unique; holds the azurekeyvault:// secrets key.")
    key_name: str = "pulumi-secrets"

    _rg = field_validator("resource_group")(_matches(RESOURCE_GROUP, "1-90 letters, digits, '-', '_', '.', '(', ')'"))
    _account = field_validator("storage_account")(_matches(STORAGE_ACCOUNT, "3-24 lowercase letters and digits"))
    _container = field_validator("container")(_matches(CONTAINER, "3-63 lowercase letters, digits, single '-'"))
    _vault = field_validator("key_vault")(_matches(KEY_VAULT, "3-24 letters, digits, single '-', starting with a letter"))
    _key = field_validator("key_name")(_matches(KEY_NAME, "1-127 letters, digits, '-'"))


class Environment(_Model):
    resource_group: str = Field(description="The environment's resource group (the workspace's).")

    _rg = field_validator("resource_group")(_matches(RESOURCE_GROUP, "1-90 letters, digits, '-', '_', '.', '(', ')'"))


class BootstrapSettings(_Model):
    github: GitHub
    location: str
    state: State
    environments: dict[str, Environment] = Field(min_length=1)
    tags: dict[str, str]

    @field_validator("environments")
    @classmethod
    def _names(cls, value: dict[str, Environment]) -> dict[str, Environment]:
        for name in value:
            _matches(ENVIRONMENT, "lowercase letters, digits, '-' (a GitHub environment name)")(name)
        return value

    @field_validator("tags")
    @classmethod
    def _owner(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("owner"):
            raise ValueError("must include a non-empty owner")
        return value


def parse(raw: Mapping[str, Any]) -> BootstrapSettings:
    try:
        return BootstrapSettings.model_validate(dict(raw))
    except ValidationError as error:
        lines = []
        for e in error.errors():
            key = NAMESPACE + ":" + ".".join(str(p) for p in e["loc"])
            message = "is required" if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {message}")
        raise BootstrapError("invalid bootstrap config:\n  " + "\n  ".join(lines)) from None


def load(config) -> BootstrapSettings:
    raw = {}
    for name, field in BootstrapSettings.model_fields.items():
        key = field.alias or name
        value = config.get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except ValueError:
                raw[key] = value
    return parse(raw)
