"""The workflows' github-script steps, run under Node as actions/github-script runs them, against a fake GitHub API.

pr-comment.yml: the pull request's own run produced the artifact, so nothing in it but the report text may
be trusted; these cases are the attacks and races the security review describes. drift.yml: the issue job
that holds `issues: write` and no Azure token.
"""

import json
import subprocess

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
