"""Which Azure cloud the provider deploys to, and that cloud's private DNS zone names.

The zone names differ per cloud, so they live in one table for every cloud (private_dns_zones.json, from
Azure's "Azure Private Endpoint private DNS zone values"), and the cloud is the one azure-native runs in:
its `environment` provider setting (`azure-native:environment`, or the `ARM_ENVIRONMENT` variable the
provider also reads), `public` when neither is set, as azure-native defaults.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DEFAULT_CLOUD = "public"
# Private endpoint group ids (sub-resources) the stack creates endpoints for, with their zones in the table.
WORKSPACE_GROUP = "amlworkspace"
BLOB_GROUP = "blob"
VAULT_GROUP = "vault"
# The provider setting's other spellings (azure-native accepts the Terraform-style names too).
_ALIASES = {
    "azurecloud": "public",
    "azureusgovernment": "usgovernment",
    "azureusgovernmentcloud": "usgovernment",
    "azurechinacloud": "china",
}


@cache
def _table() -> dict[str, dict]:
    data = json.loads((Path(__file__).parent / "private_dns_zones.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def clouds() -> list[str]:
    return sorted(_table())


def cloud_name(environment: str | None) -> str:
    """The table's name for a provider `environment` value; ValueError for a cloud the table does not know."""
    if not environment:
        return DEFAULT_CLOUD
    name = _ALIASES.get(environment.lower(), environment.lower())
    if name not in _table():
        raise ValueError(f"{environment!r} is not an Azure cloud this program knows ({', '.join(clouds())})")
    return name


def zone_names(cloud: str, group: str) -> list[str]:
    """The private DNS zones a private endpoint of `group` needs in `cloud` (the workspace needs two)."""
    return list(_table()[cloud][group])


def all_zone_names(cloud: str) -> dict[str, str]:
    """zone name -> group, for every group of `cloud`."""
    return {zone: group for group in (WORKSPACE_GROUP, BLOB_GROUP, VAULT_GROUP) for zone in _table()[cloud][group]}


def cloud_of_zone(zone: str) -> str | None:
    """The cloud whose table lists `zone` (case-insensitive, as DNS is), if any."""
    for cloud in _table():
        if zone.lower() in all_zone_names(cloud):
            return cloud
    return None


def storage_suffixes() -> list[str]:
    """Every cloud's storage suffix: an FQDN under one is a storage account (Azure wants a private endpoint there)."""
    return [entry["storageSuffix"] for entry in _table().values()]
