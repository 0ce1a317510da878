"""The workflows' github-script steps, run under Node as actions/github-script runs them, against a fake GitHub API.

pr-comment.yml: the pull request's own run produced the artifact, so nothing in it but the report text may
be trusted; these cases are the attacks and races the security review describes. drift.yml: the issue job
that holds `issues: write` and no Azure token.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.paths import REPO

WORKFLOW = REPO / ".github" / "workflows" / "pr-comment.yml"
HARNESS = REPO / "tests" / "node" / "github_script.js"
HEAD = "a" * 40
REPO_INFO = {"owner": "contoso", "repo": "azureml-endpoints"}
BOT = {"login": "github-actions[bot]", "type": "Bot"}


def script_step(workflow: str, job: str) -> dict:
    steps = yaml.safe_load((REPO / ".github" / "workflows" / workflow).read_text())["jobs"][job]["steps"]
    return next(s for s in steps if s.get("uses", "").startswith("actions/github-script"))


def comment_step() -> dict:
    return script_step("pr-comment.yml", "comment")


def run_github_script(tmp_path, step: dict, world: dict) -> list[dict]:
    (tmp_path / "script.js").write_text(step["with"]["script"])
    world = {"env": {k: str(v) for k, v in step.get("env", {}).items()}, "repo": REPO_INFO, **world}
    (tmp_path / "world.json").write_text(json.dumps(world))
    result = subprocess.run(
        ["node", str(HARNESS), str(tmp_path / "script.js"), str(tmp_path / "world.json"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def pull(number: int, sha: str = HEAD, owner: str = "contoso", ref: str = "feature", state: str = "open") -> dict:
    return {"number": number, "state": state, "head": {"sha": sha, "ref": ref, "repo": {"owner": {"login": owner}}}}


def run_script(
    tmp_path,
    reports: dict[str, dict[str, str]],
    pulls: list[dict],
    pull_requests: list[int],
    comments: dict | None = None,
    head_owner: str = "contoso",
) -> list[dict]:
    for artifact, files in reports.items():
        for name, text in files.items():
            (tmp_path / "reports" / artifact).mkdir(parents=True, exist_ok=True)
            (tmp_path / "reports" / artifact / name).write_text(text)
    world = {
        "payload": {
            "workflow_run": {
                "head_sha": HEAD,
                "head_branch": "feature",
                "event": "pull_request",
                "head_repository": {"owner": {"login": head_owner}, "full_name": f"{head_owner}/azureml-endpoints"},
                "pull_requests": [{"number": n} for n in pull_requests],
            }
        },
        "pulls": pulls,
        "comments": {str(k): v for k, v in (comments or {}).items()},
    }
    return run_github_script(tmp_path, comment_step(), world)


def writes(calls: list[dict]) -> list[tuple[str, dict]]:
    return [(c["call"], c["params"]) for c in calls if c["call"] in ("issues.createComment", "issues.updateComment")]


def test_the_pull_request_comes_from_the_event_not_from_the_artifact(tmp_path):
    calls = run_script(tmp_path, {"preview-dev": {"dev.md": "plan", "pr-number": "99"}}, [pull(7), pull(99)], [7])
    assert writes(calls) == [("issues.createComment", {**REPO_INFO, "issue_number": 7, "body": "<!-- offline-preview:dev -->\nplan"})]
    assert not [c for c in calls if c["params"] and 99 in (c["params"].get("issue_number"), c["params"].get("pull_number"))]


def test_fork_pull_requests_are_found_by_head_branch_and_commit(tmp_path):
    forked = pull(8, owner="forker")
    calls = run_script(tmp_path, {"preview-prod": {"prod.md": "plan"}}, [forked, pull(9, owner="someone-else")], [], head_owner="forker")
    assert {"call": "pulls.list", "params": {**REPO_INFO, "state": "open", "head": "forker:feature"}} in calls
    assert [p["issue_number"] for _, p in writes(calls)] == [8]


@pytest.mark.parametrize("pulls", [[pull(7, sha="b" * 40)], [pull(7, state="closed")]])
def test_a_report_for_an_older_commit_or_a_closed_pr_is_not_posted(tmp_path, pulls):
    assert writes(run_script(tmp_path, {"preview-dev": {"dev.md": "stale plan", "pr-number": "7"}}, pulls, [7])) == []


def test_an_ambiguous_head_posts_nothing(tmp_path):
    calls = run_script(
        tmp_path,
        {"preview-dev": {"dev.md": "plan", "pr-number": "8"}},
        [pull(8, owner="forker"), pull(9, owner="forker")],
        [],
        head_owner="forker",
    )
    assert writes(calls) == []


def test_only_known_stacks_are_posted(tmp_path):
    calls = run_script(
        tmp_path,
        {"preview-dev": {"dev.md": "plan"}, "preview-evil": {"evil.md": "@everyone click here"}, "other": {"other.md": "x"}},
        [pull(7)],
        [7],
    )
    assert [p["body"].splitlines()[0] for _, p in writes(calls)] == ["<!-- offline-preview:dev -->"]
    assert {"call": "core.warning", "message": "ignored artifact preview-evil: not a known stack"} in calls


def test_the_body_is_capped(tmp_path):
    limit = int(comment_step()["env"]["BODY_LIMIT"])
    ((_, params),) = writes(run_script(tmp_path, {"preview-dev": {"dev.md": "x" * (limit * 2)}}, [pull(7)], [7]))
    assert limit < len(params["body"]) < limit + 200  # GitHub refuses comments over 65,536 characters
    assert params["body"].endswith("report cut: see the run's job summary.")


def test_only_the_bots_own_comment_is_updated(tmp_path):
    marker = "<!-- offline-preview:dev -->"
    comments = {
        7: [
            {"id": 1, "user": {"login": "mallory", "type": "User"}, "body": f"{marker}\nfake: no changes"},
            {"id": 2, "user": {"login": "mallory[bot]", "type": "Bot"}, "body": f"{marker}\nfake too"},
        ]
    }
    calls = run_script(tmp_path, {"preview-dev": {"dev.md": "plan"}}, [pull(7)], [7], comments)
    assert [name for name, _ in writes(calls)] == ["issues.createComment"]
    comments[7].append({"id": 3, "user": BOT, "body": f"{marker}\nold plan"})
    calls = run_script(tmp_path, {"preview-dev": {"dev.md": "plan"}}, [pull(7)], [7], comments)
    assert writes(calls) == [("issues.updateComment", {**REPO_INFO, "comment_id": 3, "body": f"{marker}\nplan"})]


def test_the_known_stacks_are_the_ones_previewed_and_runs_are_serialised():
    document = yaml.safe_load(WORKFLOW.read_text())
    previewed = yaml.safe_load((REPO / ".github/workflows/pull-request.yml").read_text())["jobs"]["offline-preview"]
    assert comment_step()["env"]["KNOWN_STACKS"].split() == previewed["strategy"]["matrix"]["stack"]
    assert document["concurrency"]["cancel-in-progress"] is True
    assert "workflow_run.head_branch" in document["concurrency"]["group"]
    assert document["permissions"] == {} and document["jobs"]["comment"]["permissions"] == {"actions": "read", "pull-requests": "write"}


def drift_reports(tmp_path, codes: dict[str, str]) -> None:
    for stack, code in codes.items():
        (tmp_path / "reports" / f"drift-{stack}").mkdir(parents=True)
        (tmp_path / "reports" / f"drift-{stack}" / "code").write_text(code + "\n")
        (tmp_path / "reports" / f"drift-{stack}" / "drift.md").write_text(f"report {stack}")


def test_the_drift_issue_job_opens_updates_and_closes_per_stack(tmp_path):
    drift_reports(tmp_path, {"dev": "2", "staging": "2", "prod": "0"})
    issues = [{"number": 5, "state": "open", "labels": ["drift:staging"]}, {"number": 6, "state": "open", "labels": ["drift:prod"]}]
    calls = run_github_script(tmp_path, script_step("drift.yml", "issue"), {"payload": {}, "issues": issues})
    made = [(c["call"], c["params"]) for c in calls if c["call"] in ("issues.create", "issues.update", "issues.createComment")]
    run = "https://github.example/contoso/azureml-endpoints/actions/runs/1"
    assert made == [
        (
            "issues.create",
            {**REPO_INFO, "title": "Drift detected in stack dev", "body": f"report dev\n\n[Run]({run})", "labels": ["drift:dev"]},
        ),
        ("issues.update", {**REPO_INFO, "issue_number": 5, "body": f"report staging\n\n[Run]({run})"}),
        ("issues.createComment", {**REPO_INFO, "issue_number": 6, "body": "No drift any more; closing."}),
        ("issues.update", {**REPO_INFO, "issue_number": 6, "state": "closed"}),
    ]


def test_a_failed_detection_leaves_its_issue_alone(tmp_path):
    drift_reports(tmp_path, {"dev": "1"})
    issues = [{"number": 5, "state": "open", "labels": ["drift:dev"]}]
    calls = run_github_script(tmp_path, script_step("drift.yml", "issue"), {"payload": {}, "issues": issues})
    assert [c for c in calls if c["call"] in ("issues.create", "issues.update", "issues.createComment")] == []


# --- .github/scripts/same_plan.py: up applies only the plan reviewers approved -----------------------------------
SAME_PLAN = REPO / ".github" / "scripts" / "same_plan.py"
ACCOUNT = "urn:pulumi:prod::azureml-endpoints::azure-native:storage:StorageAccount::data-account"
CONTAINER = "urn:pulumi:prod::azureml-endpoints::azure-native:storage:BlobContainer::data-container"
ENDPOINT = "urn:pulumi:prod::azureml-endpoints::azure-native:machinelearningservices:OnlineEndpoint::mi-uai-prod"


def tls_update(urn: str, new: str = "TLS1_2") -> dict:
    before, after = {"minimumTlsVersion": "TLS1_0"}, {"minimumTlsVersion": new}
    kind = urn.split("::")[2]
    return {
        "op": "update",
        "urn": urn,
        "oldState": {"type": kind, "inputs": before, "outputs": {}},
        "newState": {"type": kind, "inputs": after, "outputs": {}},
        "diffReasons": ["minimumTlsVersion"],
        "detailedDiff": {"minimumTlsVersion": {"kind": "update", "inputDiff": True}},
    }


def create(urn: str) -> dict:
    return {"op": "create", "urn": urn, "newState": {"type": urn.split("::")[2], "inputs": {"containerName": "data"}, "outputs": {}}}


def guard_summary(tmp_path: Path, name: str, *steps: dict) -> Path:
    """The guard's report of a preview digest, as the deploy's preview and up jobs write it."""
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["op"]] = counts.get(step["op"], 0) + 1
    preview = tmp_path / f"{name}.json"
    preview.write_text(json.dumps({"config": {}, "steps": list(steps), "changeSummary": counts}))
    result = subprocess.run([sys.executable, "-m", "azureml_endpoints.cli.main", "guard", str(preview)], capture_output=True, text=True)
    assert result.returncode in (0, 2), result.stderr
    (tmp_path / f"{name}.md").write_text(result.stdout)
    return tmp_path / f"{name}.md"


def same_plan(approved: Path, fresh: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SAME_PLAN), str(approved), str(fresh)], capture_output=True, text=True, timeout=60)


def test_the_approved_plan_in_another_step_order_is_the_same_plan(tmp_path):
    approved = guard_summary(tmp_path, "approved", tls_update(ACCOUNT), create(CONTAINER))
    fresh = guard_summary(tmp_path, "fresh", create(CONTAINER), tls_update(ACCOUNT))
    result = same_plan(approved, fresh)
    assert result.returncode == 0 and "The plan is the one approved." in result.stdout


@pytest.mark.parametrize(
    "fresh_steps, shown",
    [
        ((tls_update(ACCOUNT, "TLS1_3"), create(CONTAINER)), '"TLS1_3"'),  # a value changed since the approval
        ((tls_update(ACCOUNT), create(CONTAINER), create(ENDPOINT)), "mi-uai-prod"),  # one more resource
        ((tls_update(ACCOUNT),), "data-container"),  # one fewer
        ((tls_update(ACCOUNT), {**create(CONTAINER), "op": "replace"}), "replace"),  # another operation
    ],
)
def test_a_plan_that_changed_since_the_approval_stops_up(tmp_path, fresh_steps, shown):
    approved = guard_summary(tmp_path, "approved", tls_update(ACCOUNT), create(CONTAINER))
    result = same_plan(approved, guard_summary(tmp_path, "fresh", *fresh_steps))
    assert result.returncode == 1 and "differs from the approved preview" in result.stdout and shown in result.stdout


def test_a_missing_or_foreign_summary_is_refused(tmp_path):
    approved = guard_summary(tmp_path, "approved", create(CONTAINER))
    (tmp_path / "other.md").write_text("hello\n")
    assert same_plan(approved, tmp_path / "absent.md").returncode == 2
    assert same_plan(approved, tmp_path / "other.md").returncode == 2


def test_up_compares_a_fresh_preview_with_the_approved_one_before_it_applies():
    jobs = yaml.safe_load((REPO / ".github" / "workflows" / "deploy-stack.yml").read_text())["jobs"]
    upload = next(s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"] == {"name": "approved-plan-${{ inputs.stack }}", "path": "guard.md", "if-no-files-found": "error"}
    steps = jobs["up"]["steps"]
    download = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/download-artifact@"))
    assert steps[download]["with"] == {"name": "approved-plan-${{ inputs.stack }}", "path": "approved"}
    compare = next(i for i, s in enumerate(steps) if "same_plan.py approved/guard.md guard.md" in s.get("run", ""))
    up = next(i for i, s in enumerate(steps) if "pulumi up" in s.get("run", ""))
    assert download < compare < up
    fresh = steps[compare]["run"]
    preview_script = next(s["run"] for s in jobs["preview"]["steps"] if "pulumi preview" in s.get("run", ""))
    # The fresh plan is made as the approved one was: same baseline, same policy pack, same guard.
    for line in preview_script.splitlines()[1:]:
        assert line.strip() in fresh, line
    assert "azureml-endpoints guard preview.json > guard.md" in fresh and "set +e" not in fresh
