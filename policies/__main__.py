"""The policy pack; the rules live in guardrails/ (one validator function per rule)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from guardrails import ALL_POLICIES
from guardrails.common import refuse_bad_config

refuse_bad_config(ALL_POLICIES)

PolicyPack(
    name="azureml-endpoints-guardrails",
    policies=ALL_POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Immutable endpoint identities, least-privileged roles and locked-down storage for Azure ML endpoints.",
)
