"""`azureml-endpoints <command>`: the one entry point of every user command.

Each command is a module of this package with `main(argv) -> int`; it is imported only when run, so
`azureml-endpoints guard` never pays for the mocks the offline preview loads. Exit codes are the command's
own (each command's `--help` lists them); 2 here means no such command.
"""

from __future__ import annotations

import importlib
import sys

# command -> (module in azureml_endpoints.cli, one line for the command table)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "judges every stack of the project: config, references, lock, program, policies, scoring code"),
    "preview": ("preview", "what `pulumi up -s <stack>` would create, offline: plan, policies, quota, time"),
    "plan-diff": ("plan_diff", "an offline preview digest between two configs of a stack, for the guard"),
    "guard": ("guard", "reads a real `pulumi preview --json` and blocks what must not reach prod"),
    "drift": ("drift", "reads a `pulumi refresh` event stream and reports what changed in Azure"),
    "baseline": ("baseline", "the policy and program config a stack's exported state implies"),
    "model-lock": ("model_lock", "checks, or adds, the content hash of every catalog model version"),
    "score-local": ("score_local", "runs a deployment's scoring code under Azure ML's inference server, here"),
    "import": ("import_az", "turns `az ml` endpoint, deployment and compute YAML into stack config and catalog entries"),
    "rollout": ("rollout", "shifts an endpoint's traffic step by step, rolling back on bad metrics"),
    "github-environments": ("github_environments", "sets or checks the GitHub environments the workflows deploy through"),
    "e2e": ("e2e", "the live end-to-end workflow's steps: make a stack, check its answers"),
}
PROG = "azureml-endpoints"


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} <command> [arguments]  ({PROG} <command> --help for each)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{PROG}: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"azureml_endpoints.cli.{COMMANDS[name][0]}")
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
