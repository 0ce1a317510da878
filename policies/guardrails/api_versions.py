"""Resources use stable API versions: preview APIs change without notice.

azure-native v3 has no versioned modules; each type is sent with the provider's default API version, which the
type token no longer shows. preview_api_defaults.json lists the types whose default is a preview version at the
pinned provider (generated from the SDK: tests/api_version_table.py; a test keeps it current). A type in it is
refused unless PREVIEW_EXCEPTIONS names it with that exact version and the reason no stable version can be used.
"""

import json
from pathlib import Path

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from guardrails.common import total

PREVIEW_DEFAULTS: dict[str, str] = json.loads((Path(__file__).resolve().parent / "preview_api_defaults.json").read_text())

# type -> (the one preview version allowed, why). Each is a type for which azure-native v3 imports no stable
# version: other versions exist only as a locally generated SDK (`pulumi package add azure-native <module>
# <version>`), which this project does not ship. A provider bump that changes the version ends the exception.
PREVIEW_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "azure-native:monitor:AutoscaleSetting": (
        "2021-05-01-preview",
        "the only Microsoft.Insights/autoscalesettings version azure-native v3 offers; autoscale per online deployment (docs/operability.md#autoscale)",
    ),
    "azure-native:monitor:DiagnosticSetting": (
        "2021-05-01-preview",
        "the only Microsoft.Insights/diagnosticSettings version azure-native v3 offers; endpoint logs to Log Analytics",
    ),
    "azure-native:monitor:ActionGroup": (
        "2024-10-01-preview",
        "the stable 2022-06-01 and 2018-03-01 need a locally generated SDK; the alert receivers",
    ),
    "azure-native:containerregistry:Registry": (
        "2023-01-01-preview",
        "the stable 2025-11-01 and earlier need a locally generated SDK; a registry the stack creates for its workspace",
    ),
    "azure-native:authorization:RoleDefinition": (
        "2022-05-01-preview",
        "the stable 2022-04-01 needs a locally generated SDK; bootstrap/'s endpoint invoker role",
    ),
    "azure-native:authorization:PolicyExemption": (
        "2022-07-01-preview",
        "Microsoft.Authorization/policyExemptions is a preview-only resource type (Azure/azure-rest-api-specs, "
        "Microsoft.Authorization/policy/PolicyExemption.tsp): no stable version exists; bootstrap/'s landing-zone waivers",
    ),
    "azure-native:monitor:ScheduledQueryRule": (
        "2025-01-01-preview",
        "the stable 2023-12-01 and earlier need a locally generated SDK; bootstrap/'s alert on decrypts of state outside the scheduled runs",
    ),
}


@total
def stable_api_version(args: ResourceValidationArgs, report_violation: ReportViolation):
    parts = args.resource_type.split(":")
    if len(parts) == 3 and parts[0] == "azure-native" and "preview" in parts[1].lower():
        report_violation(f"{args.resource_type} uses a preview API version; use the provider's default (stable) version.")
        return
    version = PREVIEW_DEFAULTS.get(args.resource_type)
    if version is None:
        return
    allowed = PREVIEW_EXCEPTIONS.get(args.resource_type)
    if allowed is None or allowed[0] != version:
        report_violation(
            f"{args.resource_type} is sent with the preview API version {version} (azure-native's default for it); "
            "use a type with a stable version, or add a documented exception to policies/guardrails/api_versions.py."
        )


no_preview_api_versions = ResourceValidationPolicy(
    name="no-preview-api-versions",
    description="Azure resources use stable API versions, never preview ones (documented exceptions only).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stable_api_version,
)

POLICIES = [no_preview_api_versions]
