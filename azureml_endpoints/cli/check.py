"""What a team's repository must hold, judged over every stack it has: the check CI runs on a team's stacks.

    azureml-endpoints check [--project DIR] [--stack NAME ...] [--start [--request FILE]]

For each `Pulumi.<stack>.yaml` of the project (default: the current directory, as under the Pulumi CLI):
  - config:      the stack's config validates (every key-named error is printed);
  - references:  every deployment's model, code, scoring script and environment resolve (catalog entries in
                 the project; `azureml:` and registry references are listed, they exist only in Azure);
  - model lock:  every catalog model version matches ml/models.lock.json;
  - program:     the program evaluates under the offline mocks;
  - policies:    the policy pack, with policies/config/<stack>.json, finds no mandatory violation;
  - scoring code: every deployment's scoring script parses and defines init() and run() at module level
                 (the contract of Azure ML's inference server and batch driver); with --start, every online
                 deployment is also started and scored under the real inference server (`score-local`), with
                 --request as the body (default score-local's, the project's ml/sample-request.json).

Prints one report per stack and a summary line. Exit codes: 0 every stack passes; 1 a stack fails a check;
2 usage (no project, no stack files, an unknown --stack, a --request that is not a file or comes without --start).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.catalog import DeploymentAssets, project_relative
from azureml_endpoints.config.stack import CONFIG_NAMESPACE, StackConfig, stack_file_settings
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.offline.policy_client import PolicyPackServer, load_policy_config
from azureml_endpoints.paths import project_dir, using_project
from azureml_endpoints.pulumi_io.stack_files import StackFileError, shipped_stacks

SCORING_CONTRACT = ("init", "run")


@dataclass
class StackReport:
    stack: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Passed: nothing failed and something was checked (a check that ran nothing passes nothing)."""
        return not self.failed and bool(self.passed)

    def render(self) -> str:
        lines = [f"stack {self.stack}: {'ok' if self.ok else 'FAILED'}"]
        lines += [f"  ok    {line}" for line in self.passed]
        lines += [f"  FAIL  {line}" for line in self.failed]
        lines += [f"  note  {line}" for line in self.notes]
        return "\n".join(lines)


def scoring_problem(code: Path, script: str) -> str | None:
    """Why a scoring script cannot start (no file, no parse, no init() or run() at module level), or None."""
    path = code / script
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError) as error:
        where = f" (line {error.lineno})" if isinstance(error, SyntaxError) else ""
        return f"does not parse: {type(error).__name__}{where}: {getattr(error, 'msg', error)}"
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    missing = [f"{name}()" for name in SCORING_CONTRACT if name not in defined]
    return (
        f"defines no {' or '.join(missing)} at module level (the inference server calls init() once, then run() per request)"
        if missing
        else None
    )


def _deployment_key(kind: str, endpoint: str, deployment: str) -> str:
    return f"{'onlineEndpoints' if kind == 'online' else 'batchEndpoints'} {endpoint}/{deployment}"


def _check_references(report: StackReport, settings: StackConfig, assets: dict[tuple[str, str, str], DeploymentAssets]) -> None:
    report.passed.append(f"references: {len(assets)} deployments resolve their model, code and environment")
    for (kind, endpoint, deployment), what in assets.items():
        refs = [what.model] + ([what.environment] if what.environment else [])
        for ref in refs:
            if ref.kind != "catalog":
                report.notes.append(
                    f"{_deployment_key(kind, endpoint, deployment)}: {ref.label} exists only in Azure (not checked offline)"
                )
    locked = sorted({m.reference for m in settings.models})
    report.passed.append(f"model lock: {len(locked)} model versions match the lock ({', '.join(locked) or 'none in the catalog'})")


def _check_scoring(report: StackReport, settings: StackConfig, assets: dict[tuple[str, str, str], DeploymentAssets]) -> None:
    scripts = 0
    for (kind, endpoint, deployment), what in assets.items():
        if what.code is None:
            report.passed.append(f"scoring code: {_deployment_key(kind, endpoint, deployment)} is a no-code MLflow deployment")
            continue
        problem = scoring_problem(what.code, what.scoring_script)
        where = f"{project_relative(what.code)}/{what.scoring_script}"
        if problem:
            key = _script_key(kind, endpoint, deployment, settings, what)
            report.failed.append(f"scoring code: {key} ({where}) {problem}")
        else:
            scripts += 1
    if scripts:
        report.passed.append(f"scoring code: {scripts} scoring scripts define init() and run()")


def _script_key(kind: str, endpoint: str, deployment: str, settings: StackConfig, what: DeploymentAssets) -> str:
    """The config key that names a deployment's scoring script: the deployment's, or its models entry's."""
    endpoints = settings.online_endpoints if kind == "online" else settings.batch_endpoints
    e = next(i for i, x in enumerate(endpoints) if x.name == endpoint)
    d = next(i for i, x in enumerate(endpoints[e].deployments) if x.name == deployment)
    named = endpoints[e].deployments[d]
    if named.code is None and named.scoring_script is None and what.model.entry in settings.models:
        return f"{CONFIG_NAMESPACE}:models[{settings.models.index(what.model.entry)}].scoringScript"
    return f"{CONFIG_NAMESPACE}:{'onlineEndpoints' if kind == 'online' else 'batchEndpoints'}[{e}].deployments[{d}].scoringScript"


def _start(report: StackReport, stack: str, settings: StackConfig, project: Path, request: Path | None) -> None:
    """Each online deployment started and scored under the real inference server, by `score-local`."""
    for endpoint in settings.online_endpoints:
        for deployment in endpoint.deployments:
            command = [sys.executable, "-m", "azureml_endpoints.cli.main", "score-local", "--stack", stack]
            command += ["--endpoint", endpoint.name, "--deployment", deployment.name]
            command += ["--request", str(request)] if request else []
            result = subprocess.run(command, cwd=project, capture_output=True, text=True)
            what = f"start: {endpoint.name}/{deployment.name} under the inference server"
            if result.returncode == 0:
                report.passed.append(f"{what} answered 200")
            else:
                report.failed.append(f"{what}: exit {result.returncode}: {_reason(result.stderr.strip() or result.stdout.strip())}")


# The exception a scoring script raised, in the server's log ("ImportError: cannot import name ..."), not the lines
# the server prints after it ("Worker failed to boot").
RAISED = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): .+$", re.MULTILINE)


def _reason(output: str) -> str:
    """The first exception a failed start's output names, else its last line."""
    raised = RAISED.search(output)
    return raised.group(0).strip() if raised else (output.splitlines()[-1:] or ["no output"])[0]


def check_stack(stack: str, pack: PolicyPackServer, start: bool, project: Path, request: Path | None = None) -> StackReport:
    report = StackReport(stack)
    try:
        settings = stack_file_settings(stack)
    except (SettingsError, StackFileError, OSError) as error:
        # One violation is one line ("invalid <ns> config: <key>: <rule>"), several are a heading and a line each.
        lines = [line.strip().removeprefix(f"invalid {CONFIG_NAMESPACE} config:").strip() for line in str(error).splitlines()]
        report.failed += [f"config: {line}" for line in lines if line] or [f"config: {error}"]
        return report
    report.passed.append("config: validates")
    assets = settings.deployment_assets()
    _check_references(report, settings, assets)
    evaluation = evaluate(stack, project_dir=project, raise_errors=False)
    if evaluation.error is not None:
        report.failed.append(f"program: does not evaluate: {type(evaluation.error).__name__}: {evaluation.error}")
        return report
    report.passed.append(f"program: evaluates ({len(evaluation.registrations)} resources)")
    violations = pack.check(evaluation.registrations, load_policy_config(stack))
    mandatory = [v for v in violations if v.level == "mandatory"]
    for v in mandatory:
        report.failed.append(f"policies: {v.policy} on {v.resource_name}: {v.message}")
    if not mandatory:
        advisory = len(violations)
        report.passed.append(f"policies: no mandatory violation ({advisory} advisory)")
    _check_scoring(report, settings, assets)
    if start and not report.failed:
        _start(report, stack, settings, project, request)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=None, help="the Pulumi project directory (default: the current directory)")
    parser.add_argument("--stack", action="append", default=[], help="check only this stack (repeatable; default every stack)")
    parser.add_argument("--start", action="store_true", help="also start and score every online deployment (score-local)")
    parser.add_argument(
        "--request",
        type=Path,
        help="with --start: the JSON body every started deployment scores (default: the project's ml/sample-request.json)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    project = (args.project or project_dir()).resolve()
    if args.request and not (args.start and args.request.is_file()):
        print(f"error: --request {args.request}: {'not a file' if args.start else 'goes with --start'}", file=sys.stderr)
        return 2
    if not (project / "Pulumi.yaml").is_file():
        print(f"error: {project} is not a Pulumi project (no Pulumi.yaml)", file=sys.stderr)
        return 2
    stacks = shipped_stacks(project)
    unknown = sorted(set(args.stack) - set(stacks))
    if unknown or not stacks:
        print(
            f"error: {'no stack ' + ', '.join(unknown) if unknown else 'no Pulumi.<stack>.yaml'} in {project} (stacks: {', '.join(stacks) or 'none'})",
            file=sys.stderr,
        )
        return 2
    reports = []
    with using_project(project), PolicyPackServer() as pack:
        for stack in args.stack or stacks:
            reports.append(check_stack(stack, pack, args.start, project, args.request and args.request.resolve()))
            print(reports[-1].render(), flush=True)
    failed = [r.stack for r in reports if not r.ok]
    print(f"\n{len(reports) - len(failed)} of {len(reports)} stacks pass" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
