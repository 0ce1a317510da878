"""The GitHub workflows: valid against GitHub's workflow schema, and every command they run exists here."""

import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO
from tools.evaluate import shipped_stacks

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True; GitHub reads it as "on".
    document = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document


def run_scripts(document: dict) -> list[str]:
    return [step["run"] for job in document["jobs"].values() for step in job.get("steps", []) if "run" in step]


def uses(document: dict) -> list[str]:
    found = [step["uses"] for job in document["jobs"].values() for step in job.get("steps", []) if "uses" in step]
    return found + [job["uses"] for job in document["jobs"].values() if "uses" in job]


def test_workflows_exist():
    assert {w.name for w in WORKFLOWS} == {"pull-request.yml", "pr-comment.yml", "deploy.yml", "deploy-stack.yml", "drift.yml", "rollout.yml"}


def test_workflows_match_the_github_workflow_schema():
    # check-jsonschema ships GitHub's workflow schema; --builtin-schema reads it offline.
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_workflow_is_caught_by_the_schema_check(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True, text=True,
    )
    assert result.returncode != 0


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_every_command_a_workflow_runs_exists_in_the_repo(workflow):
    document = load(workflow)
    for script in run_scripts(document):
        for module in re.findall(r"python3? -m (tools\.\w+|pytest|venv)", script):
            if module.startswith("tools."):
                assert (REPO / "tools" / f"{module.split('.', 1)[1]}.py").is_file(), module
        for path in re.findall(r"(?:-r |bash |--policy-pack )([\w./-]+)", script):
            assert (REPO / path).exists(), f"{workflow}: {path}"
    for used in uses(document):
        if used.startswith("./"):
            assert (REPO / used).is_file(), used


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_matrix_stacks_ship(workflow):
    for job in load(workflow)["jobs"].values():
        for stack in job.get("strategy", {}).get("matrix", {}).get("stack", []):
            assert stack in shipped_stacks()
            assert (REPO / "policies" / "config" / f"{stack}.json").is_file()


def test_actions_are_pinned_to_major_versions():
    for workflow in WORKFLOWS:
        for used in uses(load(workflow.name)):
            if used.startswith("pulumi/actions"):
                assert used == "pulumi/actions@v7"
            if used.startswith("azure/login"):
                assert used in ("azure/login@v3", "azure/login@f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca")  # v3.0.1
            if not used.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+|[0-9a-f]{40})", used), used


def test_pull_requests_need_no_secret_and_forks_never_reach_azure():
    text = (REPO / ".github/workflows/pull-request.yml").read_text()
    assert "secrets." not in text
    document = load("pull-request.yml")
    assert document["on"] == {"pull_request": None}
    cloud = document["jobs"]["cloud-preview"]
    assert cloud["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert cloud["permissions"]["id-token"] == "write"
    assert any("tools.guard preview.json" in s for s in run_scripts(document))
    assert any("tools.baseline state.json" in s and "--policy-pack policies" in s for s in run_scripts(document))
    assert any("bash .ci/run" == s.strip() for s in run_scripts(document))
    # The comment is written by a workflow_run job that checks out no code.
    comment = load("pr-comment.yml")
    assert comment["on"]["workflow_run"]["workflows"] == ["pull-request"]
    assert not any(u.startswith("actions/checkout") for u in uses(comment))


def test_deploys_go_dev_staging_prod_each_gated_and_serialised():
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert [j["with"]["stack"] for j in jobs.values()] == ["dev", "staging", "prod"]
    assert jobs["staging"]["needs"] == "dev" and jobs["prod"]["needs"] == "staging"
    up = load("deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    assert up["concurrency"]["group"] == "pulumi-${{ inputs.stack }}"
    assert any("pulumi up" in s and "--yes" in s and "--policy-pack policies" in s for s in run_scripts({"jobs": {"up": up}}))
    for key in ("ARM_USE_OIDC", "ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"):
        assert key in up["env"]


def test_drift_runs_on_a_schedule_state_safe_and_manages_issues():
    document = load("drift.yml")
    assert "schedule" in document["on"] and "workflow_dispatch" in document["on"]
    scripts = run_scripts(document)
    assert any("pulumi refresh" in s and "--preview-only --json" in s for s in scripts)
    assert any("python -m tools.drift refresh.json" in s for s in scripts)
    assert document["permissions"]["issues"] == "write"


def test_rollout_is_dispatched_by_hand_least_privileged_and_serialised_with_up():
    document = load("rollout.yml")
    text = (REPO / ".github/workflows/rollout.yml").read_text()
    assert set(document["on"]) == {"workflow_dispatch"}
    assert document["permissions"] == {}
    job = document["jobs"]["rollout"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["environment"] == "${{ inputs.stack }}" and job["concurrency"]["group"] == "pulumi-${{ inputs.stack }}"
    for used in uses(document):  # pinned to a full commit SHA, the tag in a comment
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", used), used
        assert re.search(re.escape(used) + r" # v\d+\.\d+\.\d+", text), used
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    (script,) = [s for s in run_scripts(document) if "tools.rollout" in s]
    assert "${{" not in script  # inputs arrive through env:, never spliced into the shell
    assert '--stack "$STACK" --endpoint "$ENDPOINT" --to "$TARGET"' in script
