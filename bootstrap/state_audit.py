"""Who touched the state and its keys: resource logs of the state vault and blob service in Log Analytics, and an
alert when a reader decrypts outside the scheduled runs.

Azure Policy's "Resource logs in Key Vault should be enabled" asks for the vault's logs: every key operation is
an AuditEvent with the caller's application id and IP address (Azure docs, "Azure Key Vault logging"). Blob reads,
writes and deletes of the state account are logged from its blob service, the only level that has resource logs
for blobs ("Monitoring Azure Blob Storage"). The alert is a log search alert ("Scheduled Query Rules - Create Or
Update"): it can filter by caller and hour of the day, but it cannot see GitHub runs, so "outside the scheduled
runs" means outside the UTC hours those runs start in (docs/security.md#what-is-logged).
"""

from dataclasses import dataclass

import pulumi
from bootstrap_settings import StateLogs
from pulumi_azure_native import monitor, operationalinsights

# The Key Vault operations that use a key to recover a secret: Pulumi's azurekeyvault provider decrypts the stack's
# data key with one of them ("Azure Key Vault logging", operation names).
DECRYPT_OPERATIONS = ("KeyDecrypt", "KeyUnwrap")


@dataclass(frozen=True)
class StateAuditArgs:
    logs: StateLogs
    resource_group_name: pulumi.Input[str]
    location: str
    vault_id: pulumi.Input[str]
    blob_service_id: pulumi.Input[str]
    # Readers whose decrypts are expected only in the scheduled runs (no pull-request previews), by client id.
    watched_reader_client_ids: list[pulumi.Output[str]]
    tags: dict[str, str]


def decrypt_query(reader_client_ids: list[str], hours: list[int]) -> str:
    """KQL over AzureDiagnostics (the vault's default destination table) for decrypts by a watched reader
    outside the scheduled hours; one row per call, with who, from where and which key."""
    readers = ", ".join(f'"{c}"' for c in reader_client_ids)
    operations = ", ".join(f'"{o}"' for o in DECRYPT_OPERATIONS)
    return (
        f"AzureDiagnostics\n"
        f'| where ResourceProvider == "MICROSOFT.KEYVAULT" and Category == "AuditEvent"\n'
        f"| where OperationName in ({operations})\n"
        f"| where tostring(identity_claim_appid_g) in ({readers})\n"
        f"| where hourofday(TimeGenerated) !in ({', '.join(map(str, hours))})\n"
        f"| project TimeGenerated, OperationName, identity_claim_appid_g, CallerIPAddress, id_s, ResultSignature"
    )


class StateAudit(pulumi.ComponentResource):
    def __init__(self, name: str, args: StateAuditArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("azureml-endpoints:bootstrap:StateAudit", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        logs = args.logs
        if logs.workspace_id is not None:
            workspace_id: pulumi.Input[str] = logs.workspace_id
        else:
            workspace_id = operationalinsights.Workspace(
                f"{name}-logs",
                operationalinsights.WorkspaceArgs(
                    workspace_name=logs.workspace_name,
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
                    retention_in_days=logs.retention_in_days,
                    tags=args.tags,
                ),
                pulumi.ResourceOptions(parent=self, protect=True),
            ).id
        for role, target in (("vault", args.vault_id), ("blobs", args.blob_service_id)):
            monitor.DiagnosticSetting(
                f"{name}-{role}-logs",
                monitor.DiagnosticSettingArgs(
                    name="state-audit",
                    resource_uri=target,
                    workspace_id=workspace_id,
                    # allLogs: every category the resource has (vault: AuditEvent; blobs: StorageRead/Write/Delete).
                    logs=[monitor.DiagnosticsLogSettingsArgs(category_group="allLogs", enabled=True)],
                ),
                child,
            )
        self.alert_id = None
        if args.watched_reader_client_ids:
            query = pulumi.Output.all(*args.watched_reader_client_ids).apply(
                lambda ids: decrypt_query(sorted(ids), logs.scheduled_run_hours_utc)
            )
            rule = monitor.ScheduledQueryRule(
                f"{name}-decrypt-alert",
                monitor.ScheduledQueryRuleArgs(
                    rule_name="state-decrypt-outside-scheduled-runs",
                    resource_group_name=args.resource_group_name,
                    location=args.location,
                    kind="LogAlert",
                    description="A reader without pull-request previews decrypted state outside the hours the scheduled "
                    "runs start in: check the GitHub run at that time (a deploy's preview also decrypts).",
                    severity=1,
                    enabled=True,
                    scopes=[workspace_id],
                    evaluation_frequency="PT15M",
                    window_size="PT15M",
                    criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                        all_of=[
                            monitor.ConditionArgs(
                                query=query,
                                time_aggregation="Count",
                                operator="GreaterThan",
                                threshold=0,
                                failing_periods=monitor.ConditionFailingPeriodsArgs(
                                    number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                                ),
                            )
                        ]
                    ),
                    actions=monitor.ActionsArgs(action_groups=[logs.action_group_id]) if logs.action_group_id else None,
                    tags=args.tags,
                ),
                child,
            )
            self.alert_id = rule.id
        self.workspace_id = pulumi.Output.from_input(workspace_id)
        self.register_outputs({"workspaceId": self.workspace_id, "decryptAlertId": self.alert_id})
