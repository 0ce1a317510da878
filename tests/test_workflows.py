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
    assert {w.name for w in WORKFLOWS} == {"pull-request.yml", "pr-comment.yml", "deploy.yml", "deploy-stack.yml", "drift.yml", "e2e.yml"}


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
                assert used in ("pulumi/actions@v7", "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d")  # v7.0.0
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


def test_e2e_runs_nightly_and_on_demand_and_always_destroys():
    document = load("e2e.yml")
    assert "schedule" in document["on"] and "workflow_dispatch" in document["on"]
    assert document["permissions"] == {}
    (job,) = document["jobs"].values()
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    for key in ("ARM_USE_OIDC", "ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"):
        assert key in job["env"]
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    for step in steps:
        if "uses" in step:  # pinned to a commit, the tag in a comment
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        # Expressions reach scripts only through env:, never spliced into the shell text.
        assert "${{" not in step.get("run", ""), step.get("name")
    scripts = [s.get("run", "") for s in steps]
    up = next(i for i, s in enumerate(scripts) if "pulumi up" in s)
    again = next(i for i, s in enumerate(scripts) if "pulumi preview" in s and "--expect-no-changes" in s)
    online = next(i for i, s in enumerate(scripts) if "python -m tools.e2e check-online" in s)
    batch = next(i for i, s in enumerate(scripts) if "python -m tools.e2e check-batch" in s and "batch-endpoint invoke" in s)
    assert up < again < online < batch
    destroy = steps[-1]
    assert "pulumi destroy" in destroy["run"] and "--remove" in destroy["run"]
    assert destroy["if"].startswith("always()")
    text = (REPO / ".github/workflows/e2e.yml").read_text()
    for sha, tag in (("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"), ("f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "v3.0.1")):
        assert f"@{sha} # {tag}" in text
