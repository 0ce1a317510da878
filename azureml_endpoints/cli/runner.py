"""Where a stack's data-plane jobs run: a GitHub-hosted runner, or a self-hosted one inside a private stack's network.

    azureml-endpoints runner --stack prod [--private-labels '["self-hosted", "azureml-endpoints-private"]']

Reads Pulumi.<stack>.yaml as the program does (the config validated, so a stack the program would refuse is
refused here) and prints two lines in the form GitHub's `$GITHUB_OUTPUT` takes:

    private=true
    runs-on=["self-hosted","azureml-endpoints-private"]

A private stack (its `network` key) has storage and endpoints that answer only on their private endpoints, so
`pulumi up` (the Entra uploads), scoring and batch jobs must run inside the network; a public stack's run on
`ubuntu-latest`. `--private-labels` is a JSON list of runner labels for every private stack, or an object of
stack -> list; empty means the default, ["self-hosted", "azureml-endpoints-private"]. The list must hold
`self-hosted`, the label GitHub gives every self-hosted runner, so no private job lands on a hosted runner.
The workflows pass the repository variable PRIVATE_RUNNER_LABELS (docs/operations.md#where-jobs-run).

Exit codes: 0 printed; 1 the stack file is missing or unreadable, or its config is refused (one line on
stderr); 2 bad arguments, --private-labels included.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.config.stack import stack_file_settings
from azureml_endpoints.pulumi_io.pulumi_json import one_line
from azureml_endpoints.pulumi_io.stack_files import StackFileError

HOSTED = "ubuntu-latest"
DEFAULT_PRIVATE_LABELS = ("self-hosted", "azureml-endpoints-private")
SELF_HOSTED = "self-hosted"


class BadLabels(ValueError):
    """--private-labels is not a label list (or names none for the stack)."""


def _labels(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise BadLabels(f"{where} must be a non-empty JSON list of runner labels, such as {json.dumps(list(DEFAULT_PRIVATE_LABELS))}")
    if len({v.lower() for v in value}) != len(value):
        raise BadLabels(f"{where} names a label twice")
    if SELF_HOSTED not in (v.lower() for v in value):
        raise BadLabels(f"{where} must include {SELF_HOSTED!r}: without it a private stack's job may run on a GitHub-hosted runner")
    return list(value)


def private_labels(text: str, stack: str) -> list[str]:
    """The labels of the runner inside `stack`'s network, from --private-labels (empty: the default)."""
    if not text.strip():
        return list(DEFAULT_PRIVATE_LABELS)
    try:
        value = json.loads(text)
    except ValueError:
        raise BadLabels("--private-labels is not JSON: a list of runner labels, or an object of stack -> list") from None
    if isinstance(value, dict):
        if stack not in value:
            raise BadLabels(f"--private-labels names no runner labels for stack {stack!r} (it names: {', '.join(sorted(value)) or 'none'})")
        return _labels(value[stack], f"--private-labels[{stack!r}]")
    return _labels(value, "--private-labels")


def is_private(stack: str) -> bool:
    """Whether the stack is private end to end, as the program decides it (the validated `network` setting)."""
    return stack_file_settings(stack).network is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints runner",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 printed; 1 the stack file is missing or unreadable, or its config is refused; 2 bad arguments.",
    )
    parser.add_argument("--stack", required=True, help="stack whose Pulumi.<stack>.yaml decides")
    parser.add_argument(
        "--private-labels",
        default="",
        help="JSON list of the private runner's labels, or object stack -> list; empty: "
        + json.dumps(list(DEFAULT_PRIVATE_LABELS)).replace("%", "%%"),
    )
    args = parser.parse_args(argv)
    try:
        private = is_private(args.stack)
    except (OSError, StackFileError, SettingsError) as error:
        head, *rest = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        text = f"{head.rstrip(':')}: {'; '.join(rest)}" if rest else head  # a SettingsError lists one key per line
        print(f"error: {one_line(text, 1000)}", file=sys.stderr)
        return 1
    try:
        runs_on: str | list[str] = private_labels(args.private_labels, args.stack) if private else HOSTED
    except BadLabels as error:
        print(f"azureml-endpoints runner: error: {error}", file=sys.stderr)
        return 2
    print(f"private={'true' if private else 'false'}")
    print(f"runs-on={json.dumps(runs_on, separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
