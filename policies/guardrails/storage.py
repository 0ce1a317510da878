"""Storage the endpoints read: encrypted in transit, never public, keys only where uploads need them."""

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from guardrails.common import BLOB, BLOB_CONTAINER, STORAGE_ACCOUNT, UNKNOWN, read, total

TLS_OK = ("TLS1_2", "TLS1_3")


@total
def minimum_tls_1_2(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != STORAGE_ACCOUNT:
        return
    version = read(args.props, "minimumTlsVersion")
    if version is not UNKNOWN and version not in TLS_OK:
        report_violation(f"minimumTlsVersion is {version or 'unset (older API versions default to TLS1_0)'}: set TLS1_2.")


@total
def https_only(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == STORAGE_ACCOUNT and read(args.props, "enableHttpsTrafficOnly") is False:
        report_violation("enableHttpsTrafficOnly is false: storage must refuse plain HTTP.")


@total
def no_public_blob_access(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != STORAGE_ACCOUNT:
        return
    allowed = read(args.props, "allowBlobPublicAccess")
    if allowed is not UNKNOWN and allowed is not False:
        report_violation("allowBlobPublicAccess is not false: set it to false so no container can ever be made public.")


@total
def no_cross_tenant_replication(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type == STORAGE_ACCOUNT and read(args.props, "allowCrossTenantReplication") is True:
        report_violation("allowCrossTenantReplication is true: data could be replicated to another tenant.")


@total
def private_containers(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != BLOB_CONTAINER:
        return
    access = read(args.props, "publicAccess")
    if access is not UNKNOWN and access not in (None, "None"):
        report_violation(f"publicAccess is {access}: containers the endpoints read stay private (None).")


@total
def shared_key_only_for_uploads(args: StackValidationArgs, report_violation: ReportViolation):
    """azure-native uploads storage.Blob with the account key; any other account must turn keys off."""
    uploads_to = set()
    for blob in (r for r in args.resources if r.resource_type == BLOB):
        uploads_to.update(r.urn for r in blob.property_dependencies.get("accountName", []))
        name = read(blob.props, "accountName")
        if isinstance(name, str):
            uploads_to.add(name.lower())
    for account in (r for r in args.resources if r.resource_type == STORAGE_ACCOUNT):
        if read(account.props, "allowSharedKeyAccess") is False:
            continue
        name = read(account.props, "accountName")
        if account.urn in uploads_to or (isinstance(name, str) and name.lower() in uploads_to):
            continue
        report_violation(
            f"Storage account {name} allows shared-key access but this stack uploads no blobs to it: "
            "set allowSharedKeyAccess to false (readers use Entra tokens).",
            account.urn,
        )


storage_min_tls = ResourceValidationPolicy(
    name="storage-min-tls-1-2",
    description="Storage accounts require TLS 1.2 or later.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=minimum_tls_1_2,
)
storage_https_only = ResourceValidationPolicy(
    name="storage-https-only",
    description="Storage accounts accept HTTPS only.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=https_only,
)
storage_no_public_blob_access = ResourceValidationPolicy(
    name="storage-no-public-blob-access",
    description="Storage accounts disallow public blob access.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=no_public_blob_access,
)
storage_no_cross_tenant_replication = ResourceValidationPolicy(
    name="storage-no-cross-tenant-replication",
    description="Storage accounts do not replicate objects to other tenants.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=no_cross_tenant_replication,
)
storage_private_containers = ResourceValidationPolicy(
    name="storage-container-private",
    description="Blob containers have no anonymous public access.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=private_containers,
)
storage_shared_key_only_for_uploads = StackValidationPolicy(
    name="storage-shared-key-only-for-uploads",
    description="Shared-key access stays on only for accounts this stack uploads blobs to (azure-native uploads with the key).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=shared_key_only_for_uploads,
)

POLICIES = [
    storage_min_tls,
    storage_https_only,
    storage_no_public_blob_access,
    storage_no_cross_tenant_replication,
    storage_private_containers,
    storage_shared_key_only_for_uploads,
]
