"""Configure or check the GitHub environments the workflows run in: one branch only, reviewers and no bypass on prod.

    azureml-endpoints github-environments --repo OWNER/NAME --reviewer prod=team:ml-platform-leads
    azureml-endpoints github-environments --repo OWNER/NAME --reviewer prod=team:ml-platform-leads --check
    azureml-endpoints github-environments --repo "$GITHUB_REPOSITORY" --environment prod --check   # the workflows' preflight

`ENVIRONMENTS` below is the one list of the environments the workflows use and of the workflow files whose jobs
run in each: the tests hold the workflows to it, and bootstrap/ binds each deployer's federated credentials to
exactly those workflow files (docs/security.md#what-binds-each-principal-to-its-workflow). This sets every
environment to deploy from one branch (custom branch policies, exactly one, no wildcard), and gives the protected
ones required reviewers with "prevent self-review" and no administrator bypass (`can_admins_bypass: false`).
It calls GitHub's REST API ("Create or update an environment", "Deployment branch policies") through `gh api`,
signed in as a repository administrator; every call has a timeout, every list is read page by page, every answer's
shape is checked, and after configuring it reads the environments back and checks them.

--check changes nothing and reports every environment that does not match. With no --reviewer for a protected
environment it checks that reviewers exist at all, which a read token can see: the deploy, rollout and e2e
workflows run it as their preflight with the job's own token (`actions: read`) before signing in to Azure.
--dry-run prints the calls instead of making them.

Exit codes: 0 configured (or, with --check, everything matches); 2 an environment does not match (with --check, or
read back after configuring); 1 bad arguments, `gh` missing, an API error, a timeout or an answer of the wrong shape.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentRules:
    """What one GitHub environment must enforce, and which workflow files' jobs name it."""

    workflows: tuple[str, ...]
    # Required reviewers with prevent self-review, and administrators may not bypass them.
    protected: bool = False


DEPLOY_WORKFLOWS = ("deploy-stack.yml", "rollout.yml")
ENVIRONMENTS: dict[str, EnvironmentRules] = {
    "dev": EnvironmentRules(DEPLOY_WORKFLOWS),
    "staging": EnvironmentRules(DEPLOY_WORKFLOWS),
    "prod": EnvironmentRules(DEPLOY_WORKFLOWS, protected=True),
    "e2e": EnvironmentRules(("e2e.yml",)),
}
REPOSITORY = re.compile(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}")
REVIEWER = re.compile(r"(?P<env>[A-Za-z0-9._-]+)=(?P<kind>team|user):(?P<name>[A-Za-z0-9._-]+)")
# A literal branch name (git check-ref-format's characters, no glob): GitHub reads `*`, `?` and `[...]` in a
# branch policy as fnmatch patterns, and a pattern would let other branches take the deployer's token.
BRANCH = re.compile(r"(?!.*\.\.)(?!/)(?!.*//)(?!.*/$)[A-Za-z0-9._/-]{1,200}")
BRANCH_POLICY = {"protected_branches": False, "custom_branch_policies": True}
PAGE = 100
TIMEOUT_SECONDS = 30


class GitHubError(Exception):
    """A `gh api` call that failed, timed out or answered something of the wrong shape, in one line."""


class GitHub:
    """`gh api` with a timeout, or with dry_run the calls it would make (reads still happen: they change nothing)."""

    def __init__(self, dry_run: bool = False, timeout: float | None = None):
        self.dry_run = dry_run
        self.timeout = TIMEOUT_SECONDS if timeout is None else timeout

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        command = ["gh", "api", "--method", method, "-H", "Accept: application/vnd.github+json", path]
        if body is not None:
            command += ["--input", "-"]
        if self.dry_run and method != "GET":
            print(" ".join(command) + (f" <<< '{json.dumps(body)}'" if body is not None else ""))
            return {}
        try:
            result = subprocess.run(
                command, input=json.dumps(body) if body is not None else None, capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            raise GitHubError(f"{method} {path}: no answer within {self.timeout:g}s") from None
        except OSError as error:
            raise GitHubError(f"{method} {path}: cannot run gh ({error.strerror})") from None
        if result.returncode != 0:
            message = " ".join((result.stderr or result.stdout).split())[:300]
            raise GitHubError(f"{method} {path}: {message or f'gh exited {result.returncode}'}")
        if not result.stdout.strip():
            return {}
        try:
            return json.loads(result.stdout)
        except (ValueError, RecursionError):
            raise GitHubError(f"{method} {path}: the answer is not JSON") from None

    def object(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        answer = self.api(path, method, body)
        if not isinstance(answer, dict):
            raise GitHubError(f"{method} {path}: expected a JSON object, got {type(answer).__name__}")
        return answer


def _numeric_id(answer: dict, where: str) -> int:
    value = answer.get("id")
    if type(value) is not int or value <= 0:
        raise GitHubError(f"{where}: 'id' is {value!r}, not a positive integer")
    return value


def reviewer_ids(github: GitHub, owner: str, reviewers: list[tuple[str, str]]) -> list[dict]:
    """GitHub takes reviewers by numeric id: look each team (of the owner organisation) or user up."""
    found = []
    for kind, name in reviewers:
        path = f"/orgs/{owner}/teams/{name}" if kind == "team" else f"/users/{name}"
        found.append({"type": "Team" if kind == "team" else "User", "id": _numeric_id(github.object(path), f"GET {path}")})
    return found


def branch_policies(github: GitHub, repo: str, env: str) -> list[tuple[int, str, str]]:
    """Every deployment branch policy (id, name, type), page by page until GitHub's total is read."""
    found: list[tuple[int, str, str]] = []
    page = 1
    while True:
        path = f"/repos/{repo}/environments/{env}/deployment-branch-policies?per_page={PAGE}&page={page}"
        answer = github.object(path)
        policies, total = answer.get("branch_policies"), answer.get("total_count")
        if not isinstance(policies, list) or type(total) is not int or total < 0:
            raise GitHubError(f"GET {path}: expected 'branch_policies' (a list) and 'total_count' (a count)")
        for policy in policies:
            if not isinstance(policy, dict) or not isinstance(policy.get("name"), str):
                raise GitHubError(f"GET {path}: a branch policy without a name: {str(policy)[:80]}")
            kind = policy.get("type", "branch")
            found.append((_numeric_id(policy, f"GET {path}"), policy["name"], kind if isinstance(kind, str) else repr(kind)))
        if len(found) >= total or not policies:
            if len(found) < total:
                raise GitHubError(f"GET {path}: GitHub counts {total} branch policies but listed {len(found)}")
            return found
        page += 1


def configure(github: GitHub, repo: str, env: str, branch: str, reviewers: list[dict]) -> None:
    body: dict = {"deployment_branch_policy": BRANCH_POLICY}
    if ENVIRONMENTS[env].protected:
        body.update(reviewers=reviewers, prevent_self_review=True, can_admins_bypass=False)
    github.object(f"/repos/{repo}/environments/{env}", "PUT", body)
    present = branch_policies(github, repo, env) if not github.dry_run else []
    for policy_id, name, kind in present:
        if (name, kind) != (branch, "branch"):
            github.api(f"/repos/{repo}/environments/{env}/deployment-branch-policies/{policy_id}", "DELETE")
    if not any((name, kind) == (branch, "branch") for _, name, kind in present):
        github.object(f"/repos/{repo}/environments/{env}/deployment-branch-policies", "POST", {"name": branch, "type": "branch"})


def _reviewer_problems(env: str, environment: dict, reviewers: list[dict]) -> list[str]:
    rules = environment.get("protection_rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise GitHubError(f"GET environment {env}: 'protection_rules' is not a list of objects")
    rule = next((r for r in rules if r.get("type") == "required_reviewers"), None)
    if rule is None:
        return [f"{env}: no required reviewers"]
    listed = rule.get("reviewers", [])
    if not isinstance(listed, list) or not all(isinstance(r, dict) for r in listed):
        raise GitHubError(f"GET environment {env}: the required reviewers are not a list of objects")
    found = []
    have = {(r.get("type"), (r.get("reviewer") or {}).get("id") if isinstance(r.get("reviewer"), dict) else None) for r in listed}
    if not listed:
        found.append(f"{env}: the required reviewers rule lists nobody")
    missing = {(r["type"], r["id"]) for r in reviewers} - have
    if missing:
        found.append(f"{env}: required reviewers lack {sorted(missing)}")
    if rule.get("prevent_self_review") is not True:
        found.append(f"{env}: reviewers may approve their own runs (prevent self-review is off)")
    if environment.get("can_admins_bypass") is not False:
        found.append(f"{env}: administrators may bypass its rules (can_admins_bypass is {environment.get('can_admins_bypass')!r})")
    return found


def problems(github: GitHub, repo: str, env: str, branch: str, reviewers: list[dict]) -> list[str]:
    """Every way the environment differs from its rules; an environment that cannot be read is one problem."""
    try:
        environment = github.object(f"/repos/{repo}/environments/{env}")
    except GitHubError as error:
        return [f"{env}: cannot be read ({error})"]
    found = []
    policy = environment.get("deployment_branch_policy")
    if policy != BRANCH_POLICY:
        found.append(f"{env}: deployment branches are {policy}, not selected branches only")
    else:
        names = sorted((name, kind) for _, name, kind in branch_policies(github, repo, env))
        if names != [(branch, "branch")]:
            found.append(f"{env}: deployment branch policies are {names}, not exactly [{branch!r}]")
    if ENVIRONMENTS[env].protected:
        found += _reviewer_problems(env, environment, reviewers)
    return found


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """Bad arguments exit 1 (2 means an environment does not match)."""
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="azureml-endpoints github-environments",
        description="Deployment-branch policies (one branch), required reviewers and no admin bypass for the workflows' environments.",
        epilog="Exit codes: 0 done or matching, 2 an environment does not match, 1 error.",
    )
    parser.add_argument("--repo", required=True, help="OWNER/NAME")
    parser.add_argument(
        "--environment",
        action="append",
        dest="environments",
        help=f"an environment to configure or check (repeatable; default all: {', '.join(ENVIRONMENTS)})",
    )
    parser.add_argument("--branch", default="main", help="the only branch that may deploy (default main; a name, never a pattern)")
    parser.add_argument(
        "--reviewer",
        action="append",
        default=[],
        metavar="ENV=team:SLUG|ENV=user:LOGIN",
        help="a required reviewer for a protected ENV (repeatable; configuring prod needs at least one)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 2 if an environment does not match")
    mode.add_argument("--dry-run", action="store_true", help="print the changing calls instead of making them")
    args = parser.parse_args(argv)
    args.environments = list(dict.fromkeys(args.environments or ENVIRONMENTS))
    if not REPOSITORY.fullmatch(args.repo):
        parser.error(f"--repo: '{args.repo}' is not OWNER/NAME")
    for env in args.environments:
        if env not in ENVIRONMENTS:
            parser.error(f"--environment: '{env}' is not an environment the workflows use ({', '.join(ENVIRONMENTS)})")
    if not BRANCH.fullmatch(args.branch):
        parser.error(f"--branch: '{args.branch}' is not a branch name (letters, digits, '.', '_', '-', '/'; no wildcard)")
    args.reviewers = {}
    for value in args.reviewer:
        match = REVIEWER.fullmatch(value)
        if match is None:
            parser.error(f"--reviewer: '{value}' is not ENV=team:SLUG or ENV=user:LOGIN")
        if match["env"] not in args.environments or not ENVIRONMENTS[match["env"]].protected:
            protected = [env for env in args.environments if ENVIRONMENTS[env].protected]
            parser.error(f"--reviewer: '{match['env']}' is not one of the protected environments {protected}")
        args.reviewers.setdefault(match["env"], []).append((match["kind"], match["name"]))
    if not args.check:
        for env in args.environments:
            if ENVIRONMENTS[env].protected and not args.reviewers.get(env):
                parser.error(f"--reviewer: {env} needs at least one required reviewer ({env}=team:SLUG or {env}=user:LOGIN)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if shutil.which("gh") is None:
        print("error: the GitHub CLI `gh` is not on PATH (and must be signed in: gh auth login, or GH_TOKEN)", file=sys.stderr)
        return 1
    github = GitHub(dry_run=args.dry_run)
    owner = args.repo.split("/", 1)[0]
    try:
        reviewers = {env: reviewer_ids(github, owner, r) for env, r in args.reviewers.items()}
        if not args.check:
            for env in args.environments:
                configure(github, args.repo, env, args.branch, reviewers.get(env, []))
            if args.dry_run:
                return 0
        found = [p for env in args.environments for p in problems(github, args.repo, env, args.branch, reviewers.get(env, []))]
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for problem in found:
        print(problem)
    if found:
        return 2
    for env in args.environments:
        rules = ", required reviewers, no administrator bypass" if ENVIRONMENTS[env].protected else ""
        print(f"{env}: deploys from {args.branch} only{rules}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
