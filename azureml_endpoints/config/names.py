"""Azure's naming rules, each stated once with the message that explains it.

Every rule is a `NameRule` and an `Annotated[str, ...]` type built from it: a config field typed `EndpointName`
is checked against the whole value and, when it fails, the error says the rule in the same words everywhere
(the program's stack config, bootstrap/'s config, the generated configuration reference). The rules come from
Azure's "Naming rules and restrictions for Azure resources" and each resource provider's own limits.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from azureml_endpoints.config.base import matches, quote


@dataclass(frozen=True)
class NameRule:
    """A pattern the whole value must match, and the rule as the error message states it."""

    pattern: re.Pattern
    rule: str

    def check(self, value: Any) -> Any:
        return matches(self.pattern, self.rule)(no_control_or_format(value))

    def __call__(self, value: Any) -> Any:  # usable as a plain validator on list items and dict keys
        return self.check(value)


def no_control_or_format(value: Any) -> Any:
    """Refuses control (Cc) and format (Cf) characters: a NUL, a newline or a zero-width space is invisible in a
    portal or an email header, and no Azure name, id, address or URL takes one."""
    if isinstance(value, str):
        bad = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in ("Cc", "Cf")})
        if bad:
            raise ValueError(
                f"{quote(value)} contains control characters or format characters ({', '.join(bad)}), which no Azure value takes"
            )
    return value


def _rule(pattern: str, rule: str) -> tuple[NameRule, Any]:
    name_rule = NameRule(re.compile(pattern), rule)
    return name_rule, Annotated[str, AfterValidator(name_rule.check), name_rule]


GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# Azure Machine Learning
ENDPOINT_NAME, EndpointName = _rule(
    r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", "3-32 letters, digits or '-', starting with a letter, not ending in '-'"
)
DEPLOYMENT_NAME, DeploymentName = _rule(
    r"[a-zA-Z0-9][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]", "3-32 letters, digits or '-', starting and ending alphanumeric"
)
WORKSPACE_NAME, WorkspaceName = _rule(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", "3-33 letters, digits, '-' or '_', starting alphanumeric")
COMPUTE_NAME, ComputeName = _rule(
    r"[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]", "2-16 letters, digits or '-', starting with a letter, ending alphanumeric"
)
DATASTORE_NAME, DatastoreName = _rule(r"[a-z0-9_]{1,255}", "1-255 lowercase letters, digits or '_'")
DATA_COLLECTION_NAME, DataCollectionName = _rule(r"[a-zA-Z0-9_]{1,64}", "1-64 letters, digits or '_'")
OUTPUT_FILE_NAME, OutputFileName = _rule(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}", "a file name without folders")
# Asset names: a letter or digit, then letters, digits, '-', '_' or '.', at most 255 (the names in Microsoft's
# samples have this shape; the service checks its own rule too, so this refuses early what is surely wrong).
ASSET_NAME, AssetName = _rule(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}", "a letter or digit, then letters, digits, '-', '_' or '.' (1-255)")
ML_REGISTRY_NAME, MlRegistryName = _rule(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}", "3-33 letters, digits, '-' or '_', starting alphanumeric")
ML_REGISTRY_ID, MlRegistryId = _rule(
    rf"/subscriptions/{GUID}/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/registries/{ML_REGISTRY_NAME.pattern.pattern}",
    "an Azure ML registry's ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/registries/<name>",
)
VM_SIZE, VmSize = _rule(r"(?i:standard)_[A-Za-z0-9_]+", "an Azure VM size such as STANDARD_D2_V2")

# Resource groups, identities, regions
RESOURCE_GROUP_NAME, ResourceGroupName = _rule(
    r"[-\w.()]{0,89}[-\w()]", "1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'"
)
USER_ASSIGNED_IDENTITY_NAME, UserAssignedIdentityName = _rule(
    r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}", "3-128 letters, digits, '-' or '_', starting alphanumeric"
)
# Programmatic region names. Public cloud: the physical regions `az account list-locations` answers, as Azure
# Verified Modules caches it (Azure/terraform-azurerm-avm-utl-regions, modules/cached-data/locations.tf.json;
# tests/config/test_config_rules.py keeps the two equal against a copy in tests/data/azure/). Sovereign clouds, which
# that list does not reach: "Azure Government" and "Azure China 21Vianet" region lists. A region Azure opens later
# is added here; a typo (`westeurop`, `mars`) is refused early.
AZURE_PUBLIC_REGIONS = frozenset(
    """
    australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus centraluseuap chilecentral denmarkeast eastasia
    eastus eastus2 eastus2euap eastusstg francecentral francesouth germanynorth germanywestcentral indonesiacentral
    israelcentral italynorth japaneast japanwest jioindiacentral jioindiawest koreacentral koreasouth malaysiawest
    mexicocentral newzealandnorth northcentralus northeurope norwayeast norwaywest polandcentral qatarcentral
    southafricanorth southafricawest southcentralus southcentralusstg southeastasia southindia spaincentral
    swedencentral switzerlandnorth switzerlandwest uaecentral uaenorth uksouth ukwest westcentralus westeurope
    westindia westus westus2 westus3
    """.split()
)
AZURE_REGIONS = AZURE_PUBLIC_REGIONS | frozenset(
    """
    usgovarizona usgovtexas usgovvirginia usdodcentral usdodeast
    chinaeast chinaeast2 chinaeast3 chinanorth chinanorth2 chinanorth3
    """.split()
)
AZURE_REGION, AzureRegion = _rule(
    "|".join(sorted(AZURE_REGIONS)), "a region's programmatic name from Azure's regions list, such as westeurope or swedencentral"
)
ENTRA_OBJECT_ID, EntraObjectId = _rule(GUID, "an Entra object id (GUID)")
GROUP_DISPLAY_NAME, GroupDisplayName = _rule(
    r"[^@\"\\\[\]:;|<>,+=?*/\x00-\x1f\x7f]{1,120}",
    '1-120 characters without @ " \\ [ ] : ; | < > , + = ? * / or control characters',
)

# Storage, Key Vault, Container Registry (globally unique names)
STORAGE_ACCOUNT_NAME, StorageAccountName = _rule(r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits")
BLOB_CONTAINER_NAME, BlobContainerName = _rule(
    r"(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", "3-63 lowercase letters, digits and single '-', starting and ending alphanumeric"
)
KEY_VAULT_NAME, KeyVaultName = _rule(
    r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", "3-24 letters, digits and single '-', starting with a letter, ending alphanumeric"
)
CONTAINER_REGISTRY_NAME, ContainerRegistryName = _rule(r"[a-zA-Z0-9]{5,50}", "5-50 letters and digits")
CONTAINER_REGISTRY_ID, ContainerRegistryId = _rule(
    rf"/subscriptions/{GUID}/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/[a-zA-Z0-9]{{5,50}}",
    "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>",
)

# Azure Monitor
LOG_ANALYTICS_NAME, LogAnalyticsName = _rule(
    r"[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]", "4-63 letters, digits or '-', starting and ending alphanumeric"
)
LOG_ANALYTICS_ID, LogAnalyticsId = _rule(
    rf"/subscriptions/{GUID}/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[a-zA-Z0-9-]{{4,63}}",
    "a full ARM id /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>",
)
APP_INSIGHTS_NAME, AppInsightsName = _rule(
    r"[^%&\\?/#<>*]{0,259}[^%&\\?/#<>*. ]", "1-260 characters without % & \\ ? / # < > *, not ending in '.' or a space"
)
ACTION_GROUP_SHORT_NAME, ActionGroupShortName = _rule(
    r"(?=.*[a-zA-Z0-9_-])[a-zA-Z0-9 _-]{1,12}", "1-12 letters, digits, spaces, '_' or '-', not only spaces"
)
RECEIVER_NAME, ReceiverName = _rule(r"[a-zA-Z0-9 _.-]{1,128}", "1-128 letters, digits, spaces, '.', '_' or '-'")
# "Action Groups - Create Or Update" (Azure Monitor REST): a webhook receiver's serviceUri, posted to over https.
HTTPS_URL, HttpsUrl = _rule(r"https://[^\s/?#@]+(?:[/?#]\S*)?", "an https URL such as https://hooks.example.com/alert")
EMAIL_ADDRESS, EmailAddress = _rule(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address such as oncall@example.com")

# "Use tags to organize your Azure resources": tag names without < > % & \ ? / (and no control characters).
TAG_NAME = NameRule(re.compile(r"[^<>%&\\?/\x00-\x1f\x7f]{1,512}"), "1-512 characters without < > % & \\ ? / or control characters")
