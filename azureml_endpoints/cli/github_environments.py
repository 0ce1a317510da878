"""Configure or check the GitHub environments the deploy workflow runs in: main only, reviewers on prod.

    azureml-endpoints github-environments --repo OWNER/NAME --reviewer prod=team:ml-platform-leads
    azureml-endpoints github-environments --repo OWNER/NAME --reviewer prod=team:ml-platform-leads --check

A deployer's federated credential trusts `repo:OWNER/NAME:environment:<env>`, a subject with no branch in it:
without a deployment-branch policy, a job on any branch that names the environment gets the deployer's token.
This sets each environment (default dev, staging, prod) to deploy from `main` only (custom branch policies,
exactly one: the branch), and gives the environments named in --reviewer required reviewers with
"prevent self-review". It calls GitHub's REST API ("Create or update an environment", "Deployment branch
policies") through `gh api`, signed in as a repository administrator. --check changes nothing and reports
every environment that does not match. --dry-run prints the calls instead of making them.

Exit codes: 0 configured (or, with --check, everything matches); 2 (--check) an environment does not match;
1 bad arguments, `gh` missing, or an API error.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")
REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
REVIEWER = re.compile(r"^(?P<env>[A-Za-z0-9._-]+)=(?P<kind>team|user):(?P<name>[A-Za-z0-9._-]+)$")
BRANCH_POLICY = {"protected_branches": False, "custom_branch_policies": True}


class GitHubError(Exception):
    """A `gh api` call that failed, with GitHub's message."""


class GitHub:
    """`gh api`, or with dry_run the calls it would make (reads still happen: they change nothing)."""

    def __init__(self, dry_run: bool = False):
        self.dry_run = dry_run

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        command = ["gh", "api", "--method", method, "-H", "Accept: application/vnd.github+json", path]
        if body is not None:
            command += ["--input", "-"]
        if self.dry_run and method != "GET":
            print(" ".join(command) + (f" <<< '{json.dumps(body)}'" if body is not None else ""))
            return {}
        result = subprocess.run(command, input=json.dumps(body) if body is not None else None, capture_output=True, text=True)
        if result.returncode != 0:
            raise GitHubError(f"{method} {path}: {(result.stderr or result.stdout).strip()}")
        return json.loads(result.stdout) if result.stdout.strip() else {}


def reviewer_ids(github: GitHub, owner: str, reviewers: list[tuple[str, str]]) -> list[dict]:
    """GitHub takes reviewers by numeric id: look each team (of the owner organisation) or user up."""
    found = []
    for kind, name in reviewers:
        if kind == "team":
            found.append({"type": "Team", "id": github.api(f"/orgs/{owner}/teams/{name}")["id"]})
        else:
            found.append({"type": "User", "id": github.api(f"/users/{name}")["id"]})
    return found


def branch_policies(github: GitHub, repo: str, env: str) -> list[dict]:
    return github.api(f"/repos/{repo}/environments/{env}/deployment-branch-policies?per_page=100").get("branch_policies", [])


def configure(github: GitHub, repo: str, env: str, branch: str, reviewers: list[dict]) -> None:
    body: dict = {"deployment_branch_policy": BRANCH_POLICY}
    if reviewers:
        body.update(reviewers=reviewers, prevent_self_review=True)
    github.api(f"/repos/{repo}/environments/{env}", "PUT", body)
    present = branch_policies(github, repo, env) if not github.dry_run else []
    for policy in present:
        if (policy.get("name"), policy.get("type", "branch")) != (branch, "branch"):
            github.api(f"/repos/{repo}/environments/{env}/deployment-branch-policies/{policy['id']}", "DELETE")
    if not any((p.get("name"), p.get("type", "branch")) == (branch, "branch") for p in present):
        github.api(f"/repos/{repo}/environments/{env}/deployment-branch-policies", "POST", {"name": branch, "type": "branch"})


def problems(github: GitHub, repo: str, env: str, branch: str, reviewers: list[dict]) -> list[str]:
    try:
        environment = github.api(f"/repos/{repo}/environments/{env}")
    except GitHubError as error:
        return [f"{env}: cannot be read ({error})"]
    found = []
    if environment.get("deployment_branch_policy") != BRANCH_POLICY:
        found.append(f"{env}: deployment branches are {environment.get('deployment_branch_policy')}, not selected branches only")
    else:
        names = sorted((p.get("name"), p.get("type", "branch")) for p in branch_policies(github, repo, env))
        if names != [(branch, "branch")]:
            found.append(f"{env}: deployment branch policies are {names}, not exactly [{branch!r}]")
    if reviewers:
        rule = next((r for r in environment.get("protection_rules", []) if r.get("type") == "required_reviewers"), None)
        if rule is None:
            found.append(f"{env}: no required reviewers")
        else:
            have = {(r.get("type"), (r.get("reviewer") or {}).get("id")) for r in rule.get("reviewers", [])}
            missing = {(r["type"], r["id"]) for r in reviewers} - have
            if missing:
                found.append(f"{env}: required reviewers lack {sorted(missing)}")
            if not rule.get("prevent_self_review"):
                found.append(f"{env}: reviewers may approve their own runs (prevent self-review is off)")
    return found


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """Bad arguments exit 1 (2 means an environment does not match)."""
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="azureml-endpoints github-environments",
        description="Deployment-branch policies (main only) and required reviewers for the deploy environments.",
        epilog="Exit codes: 0 done or matching, 2 (--check) an environment does not match, 1 error.",
    )
    parser.add_argument("--repo", required=True, help="OWNER/NAME")
    parser.add_argument(
        "--environment",
        action="append",
        dest="environments",
        help=f"an environment to configure (repeatable; default {', '.join(DEFAULT_ENVIRONMENTS)})",
    )
    parser.add_argument("--branch", default="main", help="the only branch that may deploy (default main)")
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="ENV=team:SLUG|ENV=user:LOGIN",
        help="a required reviewer for ENV (repeatable; prod needs at least one)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 2 if an environment does not match")
    mode.add_argument("--dry-run", action="store_true", help="print the changing calls instead of making them")
    args = parser.parse_args(argv)
    args.environments = args.environments or list(DEFAULT_ENVIRONMENTS)
    if not REPOSITORY.match(args.repo):
        parser.error(f"--repo: '{args.repo}' is not OWNER/NAME")
    args.reviewers = {}
    for value in args.reviewer:
        match = REVIEWER.match(value)
        if match is None:
            parser.error(f"--reviewer: '{value}' is not ENV=team:SLUG or ENV=user:LOGIN")
        if match["env"] not in args.environments:
            parser.error(f"--reviewer: '{match['env']}' is not one of the environments {args.environments}")
        args.reviewers.setdefault(match["env"], []).append((match["kind"], match["name"]))
    if "prod" in args.environments and not args.reviewers.get("prod"):
        parser.error("--reviewer: prod needs at least one required reviewer (prod=team:SLUG or prod=user:LOGIN)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("gh") is None:
        print("error: the GitHub CLI `gh` is not on PATH (and must be signed in: gh auth login)", file=sys.stderr)
        return 1
    github = GitHub(dry_run=args.dry_run)
    owner = args.repo.split("/", 1)[0]
    try:
        reviewers = {env: reviewer_ids(github, owner, r) for env, r in args.reviewers.items()}
        if args.check:
            found = [p for env in args.environments for p in problems(github, args.repo, env, args.branch, reviewers.get(env, []))]
            for problem in found:
                print(problem)
            if not found:
                print(f"{', '.join(args.environments)}: deploy from {args.branch} only; reviewers as required")
            return 2 if found else 0
        for env in args.environments:
            configure(github, args.repo, env, args.branch, reviewers.get(env, []))
            if not args.dry_run:
                print(f"{env}: deploys from {args.branch} only" + (", required reviewers set" if reviewers.get(env) else ""))
        return 0
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
