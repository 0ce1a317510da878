"""azureml_endpoints/cli/github_environments.py against a fake `gh` that answers GitHub's environments REST API from a JSON file."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest
import yaml

from azureml_endpoints.cli.github_environments import ENVIRONMENTS
from azureml_endpoints.paths import REPO

FAKE_GH = textwrap.dedent('''\
    #!{python}
    """A fake `gh api`: GitHub's environment and deployment-branch-policy endpoints over a JSON file.

    `hostile` maps a path (without query) to a raw answer [stdout, exit code] or "hang", played instead.
    """
    import json, os, re, sys, time
    path = os.environ["FAKE_GH_STATE"]
    state = json.load(open(path))
    args = sys.argv[1:]
    assert args[0] == "api", args
    method = args[args.index("--method") + 1]
    target = [a for a in args[1:] if a.startswith("/")][0]
    url, _, query = target.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    body = json.loads(sys.stdin.read()) if "--input" in args else None
    state["calls"].append([method, url, body])
    envs = state["environments"]

    def answer(value):
        json.dump(state, open(path, "w"))
        print(json.dumps(value))
        sys.exit(0)

    def missing():
        json.dump(state, open(path, "w"))
        print("gh: Not Found (HTTP 404)", file=sys.stderr)
        sys.exit(1)

    hostile = state.get("hostile", {{}}).get(f"{{method}} {{url}}")
    if hostile == "hang":
        json.dump(state, open(path, "w"))
        time.sleep(60)
    if hostile is not None:
        json.dump(state, open(path, "w"))
        sys.stdout.write(hostile[0])
        sys.exit(hostile[1])
    if m := re.fullmatch(r"/orgs/[^/]+/teams/([^/]+)", url):
        answer({{"id": state["teams"][m[1]]}}) if m[1] in state["teams"] else missing()
    if m := re.fullmatch(r"/users/([^/]+)", url):
        answer({{"id": state["users"][m[1]]}}) if m[1] in state["users"] else missing()
    m = re.fullmatch(r"/repos/[^/]+/[^/]+/environments/([^/]+)(/deployment-branch-policies)?(?:/(\\d+))?", url)
    env = m[1]
    if m[2] is None:
        if method == "GET":
            answer({{k: v for k, v in envs[env].items() if k != "policies"}}) if env in envs else missing()
        e = envs.setdefault(env, {{"name": env, "deployment_branch_policy": None, "protection_rules": [], "policies": [],
                                  "can_admins_bypass": True}})
        e["deployment_branch_policy"] = body.get("deployment_branch_policy")
        e["can_admins_bypass"] = body.get("can_admins_bypass", e.get("can_admins_bypass", True))
        if "reviewers" in body:
            e["protection_rules"] = [{{"type": "required_reviewers", "prevent_self_review": body.get("prevent_self_review", False),
                                      "reviewers": [{{"type": r["type"], "reviewer": {{"id": r["id"]}}}} for r in body["reviewers"]]}}]
        answer({{k: v for k, v in e.items() if k != "policies"}})
    e = envs[env]
    if method == "GET":
        size, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        answer({{"total_count": len(e["policies"]), "branch_policies": e["policies"][(page - 1) * size : page * size]}})
    if method == "POST":
        e["policies"].append({{"id": 100000 + len(state["calls"]), **body}})
        answer(e["policies"][-1])
    if method == "DELETE":
        e["policies"] = [p for p in e["policies"] if p["id"] != int(m[3])]
        answer({{}})
''')


@pytest.fixture
def github(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH.format(python=sys.executable))
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "github.json"
    state.write_text(
        json.dumps(
            {
                "calls": [],
                "teams": {"ml-platform-leads": 42},
                "users": {"alice": 7},
                # As GitHub creates an environment a workflow first names: any branch may deploy.
                "environments": {
                    "dev": {"name": "dev", "deployment_branch_policy": None, "protection_rules": [], "policies": []},
                    "staging": {
                        "name": "staging",
                        "deployment_branch_policy": BRANCHES,
                        "protection_rules": [],
                        "policies": [{"id": 1, "name": "*", "type": "branch"}],
                    },
                },
            }
        )
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_GH_STATE": str(state)}

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "azureml_endpoints.cli.github_environments", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def edit(change) -> None:
        document = json.loads(state.read_text())
        change(document)
        state.write_text(json.dumps(document))

    def python(code: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    run.state = lambda: json.loads(state.read_text())
    run.edit = edit
    run.python = python
    return run


BRANCHES = {"protected_branches": False, "custom_branch_policies": True}
ARGS = ("--repo", "contoso/azureml-endpoints", "--reviewer", "prod=team:ml-platform-leads")
POLICIES = "GET /repos/contoso/azureml-endpoints/environments/dev/deployment-branch-policies"


def test_check_reports_environments_any_branch_may_deploy_to(github):
    result = github(*ARGS, "--check")
    assert result.returncode == 2, result.stderr
    assert "dev: deployment branches are None, not selected branches only" in result.stdout
    assert "staging: deployment branch policies are [('*', 'branch')], not exactly ['main']" in result.stdout
    assert "prod: cannot be read" in result.stdout and "e2e: cannot be read" in result.stdout
    assert [c[0] for c in github.state()["calls"]] == ["GET"] * len(github.state()["calls"])  # --check changes nothing


def test_configure_then_check_passes_for_every_environment_the_workflows_use(github):
    result = github(*ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    environments = github.state()["environments"]
    assert set(environments) == set(ENVIRONMENTS) == {"dev", "staging", "prod", "e2e"}
    for env in ENVIRONMENTS:
        assert environments[env]["deployment_branch_policy"] == BRANCHES
        assert [(p["name"], p["type"]) for p in environments[env]["policies"]] == [("main", "branch")]
    (rule,) = environments["prod"]["protection_rules"]
    assert rule == {"type": "required_reviewers", "prevent_self_review": True, "reviewers": [{"type": "Team", "reviewer": {"id": 42}}]}
    assert environments["prod"]["can_admins_bypass"] is False
    assert environments["dev"]["protection_rules"] == []
    assert "prod: deploys from main only, required reviewers, no administrator bypass" in result.stdout
    again = github(*ARGS, "--check")
    assert again.returncode == 0 and "e2e: deploys from main only" in again.stdout, again.stdout


def test_the_preflight_needs_no_reviewer_lookup_and_fails_when_admins_may_bypass(github):
    assert github(*ARGS).returncode == 0
    calls = len(github.state()["calls"])
    preflight = github("--repo", "contoso/azureml-endpoints", "--environment", "prod", "--check")
    assert preflight.returncode == 0, preflight.stdout + preflight.stderr
    assert not [c for c in github.state()["calls"][calls:] if c[1].startswith(("/orgs/", "/users/"))]  # a read token cannot see teams
    github.edit(lambda s: s["environments"]["prod"].update(can_admins_bypass=True))
    bypass = github("--repo", "contoso/azureml-endpoints", "--environment", "prod", "--check")
    assert bypass.returncode == 2 and "prod: administrators may bypass its rules" in bypass.stdout
    github.edit(lambda s: s["environments"]["prod"].update(protection_rules=[]))
    assert "prod: no required reviewers" in github("--repo", "contoso/azureml-endpoints", "--environment", "prod", "--check").stdout


def test_more_than_one_page_of_branch_policies_is_read_and_cleared(github):
    """With 250 policies GitHub lists 100 a page: reading one page would leave 150 branches able to deploy."""
    many = [{"id": n, "name": f"feature-{n}", "type": "branch"} for n in range(1, 251)]
    github.edit(lambda s: s["environments"]["dev"].update(deployment_branch_policy=BRANCHES, policies=many))
    check = github("--repo", "contoso/azureml-endpoints", "--environment", "dev", "--check")
    assert check.returncode == 2 and "feature-250" in check.stdout
    result = github("--repo", "contoso/azureml-endpoints", "--environment", "dev")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(p["name"], p["type"]) for p in github.state()["environments"]["dev"]["policies"]] == [("main", "branch")]


def test_a_policy_left_after_configuring_is_reported_not_hidden(github):
    """If GitHub keeps a policy it was told to delete, the read-back fails the run instead of printing "main only"."""
    github.edit(
        lambda s: s.update(hostile={"DELETE /repos/contoso/azureml-endpoints/environments/staging/deployment-branch-policies/1": ["", 0]})
    )
    result = github("--repo", "contoso/azureml-endpoints", "--environment", "staging")
    assert result.returncode == 2 and "staging: deployment branch policies are" in result.stdout
    assert "deploys from main only" not in result.stdout


HOSTILE = [
    ["not json", 0],
    ["[]", 0],
    ["null", 0],
    ['"text"', 0],
    ['{"branch_policies": {}, "total_count": 1}', 0],
    ['{"branch_policies": [], "total_count": "3"}', 0],
    ['{"branch_policies": [], "total_count": 3}', 0],
    ['{"branch_policies": [1, 2], "total_count": 2}', 0],
    ['{"branch_policies": [{"id": "x", "name": "main"}], "total_count": 1}', 0],
    ['{"branch_policies": [{"id": 1, "name": null}], "total_count": 1}', 0],
    ['{"branch_policies": [{"id": true, "name": "main"}], "total_count": 1}', 0],
    ["[" * 100000, 0],
    ["", 1],
    ["gh: Server Error (HTTP 500)", 1],
]


@pytest.mark.parametrize("answer", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_branch_policy_answers_are_one_line_errors(github, answer):
    github.edit(lambda s: s["environments"]["dev"].update(deployment_branch_policy=BRANCHES))
    github.edit(lambda s: s.update(hostile={POLICIES: answer}))
    for args in (("--check",), ()):
        result = github("--repo", "contoso/azureml-endpoints", "--environment", "dev", *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert "deploys from main only" not in result.stdout


@pytest.mark.parametrize(
    "answer",
    [["[]", 0], ['{"protection_rules": {}}', 0], ['{"deployment_branch_policy": null, "protection_rules": [1]}', 0]],
)
def test_hostile_environment_answers_never_pass_the_preflight(github, answer):
    github.edit(lambda s: s.update(hostile={"GET /repos/contoso/azureml-endpoints/environments/prod": answer}))
    result = github("--repo", "contoso/azureml-endpoints", "--environment", "prod", "--check")
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "deploys from main only" not in result.stdout


def test_a_team_id_of_the_wrong_type_is_refused(github):
    github.edit(lambda s: s.update(hostile={"GET /orgs/contoso/teams/ml-platform-leads": ['{"id": "42"}', 0]}))
    result = github(*ARGS)
    assert result.returncode == 1 and "'id' is '42', not a positive integer" in result.stderr


def test_a_hanging_gh_is_timed_out(github):
    github.edit(lambda s: s.update(hostile={"GET /repos/contoso/azureml-endpoints/environments/prod": "hang"}))
    code = (
        "import sys; from azureml_endpoints.cli import github_environments as g; g.TIMEOUT_SECONDS = 1; "
        "sys.exit(g.main(['--repo', 'contoso/azureml-endpoints', '--environment', 'prod', '--check']))"
    )
    result = github.python(code)
    assert result.returncode == 2 and "prod: cannot be read" in result.stdout and "no answer within 1s" in result.stdout


def test_dry_run_prints_the_changes_and_makes_none(github):
    result = github(*ARGS, "--dry-run")
    assert result.returncode == 0
    assert "gh api --method PUT" in result.stdout and '"custom_branch_policies": true' in result.stdout
    assert '"can_admins_bypass": false' in result.stdout
    assert all(method == "GET" for method, _, _ in github.state()["calls"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("--repo", "contoso/azureml-endpoints"), "prod needs at least one required reviewer"),
        (("--repo", "not a repo", "--reviewer", "prod=user:alice"), "is not OWNER/NAME"),
        (("--repo", "contoso/x", "--reviewer", "prod=alice"), "is not ENV=team:SLUG or ENV=user:LOGIN"),
        (("--repo", "contoso/x", "--reviewer", "dev=user:alice", "--reviewer", "prod=user:alice"), "'dev' is not one of the protected"),
        (("--repo", "contoso/x", "--environment", "qa", "--check"), "'qa' is not an environment the workflows use"),
        (("--repo", "contoso/x", "--branch", "*", "--check"), "no wildcard"),
        (("--repo", "contoso/x", "--branch", "release/*", "--reviewer", "prod=user:alice"), "no wildcard"),
        (("--repo", "contoso/x", "--branch", "ma[i]n", "--check"), "no wildcard"),
        (("--repo", "contoso/x\n", "--check"), "is not OWNER/NAME"),
    ],
)
def test_bad_arguments_are_refused_without_a_traceback(github, args, message):
    result = github(*args)
    assert result.returncode == 1 and "usage:" in result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert github.state()["calls"] == []


def test_an_unknown_reviewer_is_an_api_error_not_a_traceback(github):
    result = github("--repo", "contoso/azureml-endpoints", "--reviewer", "prod=user:nobody")
    assert result.returncode == 1 and "error: GET /users/nobody" in result.stderr and "Traceback" not in result.stderr


def test_help_names_the_exit_codes():
    result = subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.github_environments", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0 and "Exit codes: 0" in result.stdout


def _workflow(name: str) -> dict:
    return yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())


def test_the_environments_are_the_ones_the_workflows_name():
    """One list: every job that names an environment is in a workflow ENVIRONMENTS lists for it, and back."""
    named: dict[str, set[str]] = {}
    for path in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        document = _workflow(path.name)
        inputs = (document.get(True) or document.get("on") or {}) if isinstance(document.get(True) or document.get("on"), dict) else {}
        for job in document["jobs"].values():
            environment = job.get("environment")
            if environment is None:
                continue
            if environment == "${{ inputs.stack }}":
                if path.name == "deploy-stack.yml":
                    stacks = [j["with"]["stack"] for j in _workflow("deploy.yml")["jobs"].values()]
                else:
                    stacks = inputs["workflow_dispatch"]["inputs"]["stack"]["options"]
            else:
                stacks = [environment]
            for stack in stacks:
                named.setdefault(stack, set()).add(path.name)
    assert named == {env: set(rules.workflows) for env, rules in ENVIRONMENTS.items()}
