"""Workspace assets the stack registers: versions Azure ML accepts, and images that cannot change under a version."""

import re

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from guardrails.common import UNKNOWN, read, total

MODEL_VERSION = "azure-native:machinelearningservices:ModelVersion"
ENVIRONMENT_VERSION = "azure-native:machinelearningservices:EnvironmentVersion"
# `<registry>/<repository>:<tag>` or `...@sha256:<digest>`; the tag group is empty when the image names none.
IMAGE = re.compile(r"^(?P<repository>[^@\s]+?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


@total
def model_version_positive_integer(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != MODEL_VERSION:
        return
    version = read(args.props, "version")
    if version is UNKNOWN:
        return  # cannot tell yet; the program always sends a literal version
    if not isinstance(version, str) or not re.fullmatch(r"[1-9][0-9]*", version):
        report_violation(
            f"model version {version!r} is not a positive integer: Azure ML refuses any other workspace model version "
            "(Azure/azureml-examples#2725)."
        )


@total
def environment_image_pinned(args: ResourceValidationArgs, report_violation: ReportViolation):
    if args.resource_type != ENVIRONMENT_VERSION:
        return
    image = read(args.props, "properties", "image")
    if image is None or image is UNKNOWN:
        return  # a build context or a value still to be known
    found = IMAGE.fullmatch(image) if isinstance(image, str) else None
    if found is None:
        report_violation(f"image {image!r} is not an image reference.")
    elif not found["digest"] and found["tag"] in (None, "latest"):
        report_violation(
            f"image {image!r} is not pinned: an environment version is immutable, but `latest` (or no tag) lets the "
            "built image change under it. Name a dated tag or a @sha256 digest."
        )


model_version_is_positive_integer = ResourceValidationPolicy(
    name="model-version-positive-integer",
    description="Workspace model versions are positive integers, the only ones Azure ML accepts.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=model_version_positive_integer,
)
environment_image_is_pinned = ResourceValidationPolicy(
    name="environment-image-pinned",
    description="Environment images are pinned by a tag other than latest or by a digest.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=environment_image_pinned,
)

POLICIES = [model_version_is_positive_integer, environment_image_is_pinned]
