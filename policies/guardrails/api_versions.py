"""Resources use the provider's stable API versions: preview APIs change without notice."""

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from guardrails.common import total


@total
def stable_api_version(args: ResourceValidationArgs, report_violation: ReportViolation):
    parts = args.resource_type.split(":")
    if len(parts) == 3 and parts[0] == "azure-native" and "preview" in parts[1].lower():
        report_violation(f"{args.resource_type} uses a preview API version; use the provider's default (stable) version.")


no_preview_api_versions = ResourceValidationPolicy(
    name="no-preview-api-versions",
    description="Azure resources use stable API versions, never preview ones.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stable_api_version,
)

POLICIES = [no_preview_api_versions]
