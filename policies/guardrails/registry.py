"""Container registries the stack creates: pulled with Entra identities only (Azure ML docs, "Set up authentication between Azure Machine Learning and other services")."""

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from guardrails.common import REGISTRY, read, total


@total
def admin_user_disabled(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == REGISTRY and read(args.props, "adminUserEnabled") is True:
        report_violation("adminUserEnabled is true: the admin user is a shared password; use AcrPull for identities.")


@total
def anonymous_pull_disabled(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == REGISTRY and read(args.props, "anonymousPullEnabled") is True:
        report_violation("anonymousPullEnabled is true: anyone could pull the scoring images.")


registry_admin_user_disabled = ResourceValidationPolicy(
    name="registry-admin-user-disabled",
    description="Container registries have the admin user disabled.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=admin_user_disabled,
)
registry_anonymous_pull_disabled = ResourceValidationPolicy(
    name="registry-anonymous-pull-disabled",
    description="Container registries do not allow anonymous pull.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=anonymous_pull_disabled,
)

POLICIES = [registry_admin_user_disabled, registry_anonymous_pull_disabled]
