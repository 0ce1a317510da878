"""azureml_endpoints/cli/github_environments.py against a fake `gh` that answers GitHub's environments REST API from a JSON file."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from azureml_endpoints.paths import REPO

FAKE_GH = textwrap.dedent('''\
    #!{python}
    """A fake `gh api`: GitHub's environment and deployment-branch-policy endpoints over a JSON file."""
    import json, os, re, sys
    path = os.environ["FAKE_GH_STATE"]
    state = json.load(open(path))
    args = sys.argv[1:]
    assert args[0] == "api", args
    method = args[args.index("--method") + 1]
    url = [a for a in args[1:] if a.startswith("/")][0].split("?")[0]
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

    if m := re.fullmatch(r"/orgs/[^/]+/teams/([^/]+)", url):
        answer({{"id": state["teams"][m[1]]}}) if m[1] in state["teams"] else missing()
    if m := re.fullmatch(r"/users/([^/]+)", url):
        answer({{"id": state["users"][m[1]]}}) if m[1] in state["users"] else missing()
    m = re.fullmatch(r"/repos/[^/]+/[^/]+/environments/([^/]+)(/deployment-branch-policies)?(?:/(\\d+))?", url)
    env = m[1]
    if m[2] is None:
        if method == "GET":
            answer(envs[env]) if env in envs else missing()
        e = envs.setdefault(env, {{"name": env, "deployment_branch_policy": None, "protection_rules": [], "policies": []}})
        e["deployment_branch_policy"] = body.get("deployment_branch_policy")
        if "reviewers" in body:
            e["protection_rules"] = [{{"type": "required_reviewers", "prevent_self_review": body.get("prevent_self_review", False),
                                      "reviewers": [{{"type": r["type"], "reviewer": {{"id": r["id"]}}}} for r in body["reviewers"]]}}]
        answer(e)
    e = envs[env]
    if method == "GET":
        answer({{"total_count": len(e["policies"]), "branch_policies": e["policies"]}})
    if method == "POST":
        e["policies"].append({{"id": 100 + len(state["calls"]), **body}})
        answer(e["policies"][-1])
    if method == "DELETE":
        e["policies"] = [p for p in e["policies"] if p["id"] != int(m[3])]
        answer({{}})
''')


@pytest.fixture
def github(tmp_path, monkeypatch):
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

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "azureml_endpoints.cli.github_environments", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    run.state = lambda: json.loads(state.read_text())
    return run


BRANCHES = {"protected_branches": False, "custom_branch_policies": True}
ARGS = ("--repo", "contoso/azureml-endpoints", "--reviewer", "prod=team:ml-platform-leads")


def test_check_reports_environments_any_branch_may_deploy_to(github):
    result = github(*ARGS, "--check")
    assert result.returncode == 2, result.stderr
    assert "dev: deployment branches are None, not selected branches only" in result.stdout
    assert "staging: deployment branch policies are [('*', 'branch')], not exactly ['main']" in result.stdout
    assert "prod: cannot be read" in result.stdout
    assert [c[0] for c in github.state()["calls"]] == ["GET"] * len(github.state()["calls"])  # --check changes nothing


def test_configure_then_check_passes(github):
    result = github(*ARGS)
    assert result.returncode == 0, result.stderr
    environments = github.state()["environments"]
    for env in ("dev", "staging", "prod"):
        assert environments[env]["deployment_branch_policy"] == BRANCHES
        assert [(p["name"], p["type"]) for p in environments[env]["policies"]] == [("main", "branch")]
    (rule,) = environments["prod"]["protection_rules"]
    assert rule == {"type": "required_reviewers", "prevent_self_review": True, "reviewers": [{"type": "Team", "reviewer": {"id": 42}}]}
    assert environments["dev"]["protection_rules"] == []
    again = github(*ARGS, "--check")
    assert again.returncode == 0 and "deploy from main only" in again.stdout, again.stdout


def test_dry_run_prints_the_changes_and_makes_none(github):
    result = github(*ARGS, "--dry-run")
    assert result.returncode == 0
    assert "gh api --method PUT" in result.stdout and '"custom_branch_policies": true' in result.stdout
    assert all(method == "GET" for method, _, _ in github.state()["calls"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("--repo", "contoso/azureml-endpoints"), "prod needs at least one required reviewer"),
        (("--repo", "not a repo", "--reviewer", "prod=user:alice"), "is not OWNER/NAME"),
        (("--repo", "contoso/x", "--reviewer", "prod=alice"), "is not ENV=team:SLUG or ENV=user:LOGIN"),
        (("--repo", "contoso/x", "--reviewer", "qa=user:alice", "--reviewer", "prod=user:alice"), "'qa' is not one of the environments"),
    ],
)
def test_bad_arguments_are_refused_without_a_traceback(github, args, message):
    result = github(*args)
    assert result.returncode == 1 and "usage:" in result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_reviewer_is_an_api_error_not_a_traceback(github):
    result = github("--repo", "contoso/azureml-endpoints", "--reviewer", "prod=user:nobody")
    assert result.returncode == 1 and "error: GET /users/nobody" in result.stderr and "Traceback" not in result.stderr


def test_help_names_the_exit_codes():
    result = subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.github_environments", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0 and "Exit codes: 0" in result.stdout
