"""The preview's landing-zone report: what Enforce-Guardrails-MachineLearning would do to each declared resource."""

import copy
import json

import pytest

from azureml_endpoints.azure.landing_zone import POLICIES, landing_zone_findings
from azureml_endpoints.cli.preview import main
from azureml_endpoints.offline.evaluate import evaluate

UAI_DENY = "5f0c7d88-c7de-45b8-ac49-db49e72eaa78"
PUBLIC_MODIFY = "a10ee784-7409-4941-b091-663697637c0f"
LOCAL_AUTH_DENY = "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f"
LOCAL_AUTH_MODIFY = "a6f9a2d0-cff7-4855-83ad-4cd750666512"
LEGACY_DENY = "e413671a-dd10-4cc1-a943-45b598596cb7"
PRIVATE_LINK_AUDIT = "45e05259-1eb5-4f70-9574-baf73e9d219b"
VNET_AUDIT = "7804b5c7-01dc-4723-969b-ae300cc07ff1"
LOGS_AUDIT = "afe0c3be-ba3b-4544-ba52-0c99672a8ad6"


@pytest.fixture(scope="module")
def private():
    return evaluate("sandbox-private").registrations


def found(registrations):
    return {(f.resource, f.policy.effect, f.policy.definition_id) for f in landing_zone_findings(registrations)}


def test_the_initiative_is_complete():
    # Enforce-Guardrails-MachineLearning 1.2.0 has 14 members, each a distinct built-in definition.
    assert len({p.definition_id for p in POLICIES}) == len({p.reference_id for p in POLICIES}) == 14


def test_a_public_created_workspace_is_modified_and_audited():
    registrations = evaluate("sandbox").registrations
    assert found(registrations) == {
        ("workspace-workspace", "Modify", PUBLIC_MODIFY),
        ("workspace-workspace", "Deny", LEGACY_DENY),
        ("workspace-workspace", "Audit", PRIVATE_LINK_AUDIT),
        ("batch-sandbox-cluster-compute", "Audit", VNET_AUDIT),
    }
    # The created workspace sends its resource logs; without that diagnostic setting the policy audits it.
    without_logs = [r for r in registrations if r.name != "workspace-workspace-diagnostics"]
    assert ("workspace-workspace", "AuditIfNotExists", LOGS_AUDIT) in found(without_logs)


def test_dev_looks_its_workspace_up_so_only_its_cluster_is_judged():
    assert found(evaluate("dev").registrations) == {("batch-dev-cluster-compute", "Audit", VNET_AUDIT)}


def test_the_private_stack_is_denied_only_for_v1_legacy_mode(private):
    denied = {(r, i) for r, effect, i in found(private) if effect in ("Deny", "Modify")}
    assert denied == {("workspace-workspace", LEGACY_DENY)}


def test_a_workspace_without_a_user_assigned_identity_is_denied(private):
    changed = copy.deepcopy(private)
    next(r for r in changed if r.name == "workspace-workspace").inputs.pop("primaryUserAssignedIdentity")
    assert ("workspace-workspace", "Deny", UAI_DENY) in found(changed) - found(private)


def test_a_cluster_with_local_auth_is_denied_and_modified(private):
    changed = copy.deepcopy(private)
    next(r for r in changed if r.name == "batch-sbx-private-cluster-compute").inputs["properties"]["disableLocalAuth"] = False
    assert found(changed) - found(private) == {
        ("batch-sbx-private-cluster-compute", "Deny", LOCAL_AUTH_DENY),
        ("batch-sbx-private-cluster-compute", "Modify", LOCAL_AUTH_MODIFY),
    }


def test_the_preview_reports_it(tmp_path, capsys):
    summary = tmp_path / "report.md"
    assert main(["--stack", "sandbox", "--graph", str(tmp_path / "g.mmd"), "--summary", str(summary)]) == 0
    out = capsys.readouterr().out
    assert f"Modify: [{PUBLIC_MODIFY} Modify-ML-Public-Network-Access] workspace-workspace: publicNetworkAccess is Enabled" in out
    markdown = summary.read_text()
    assert "### Landing zone: `Enforce-Guardrails-MachineLearning`" in markdown
    assert (
        f"| `workspace-workspace` | Modify | Configure Azure Machine Learning Workspaces to disable public network access (`{PUBLIC_MODIFY}`) |"
        in markdown
    )
    assert main(["--stack", "sandbox-private", "--json", "--graph", str(tmp_path / "g.mmd")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["definitionId"] for f in doc["landingZone"] if f["effect"] in ("Deny", "Modify")] == [LEGACY_DENY]
