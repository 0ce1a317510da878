"""The live end-to-end run's helpers (.github/workflows/e2e.yml): an ephemeral stack, and checks of Azure's answers.

    azureml-endpoints e2e stack --suffix 123456 --workspace mlw-e2e --resource-group rg-e2e [--template dev]
        writes Pulumi.e2e-<suffix>.yaml: the template stack's config with names unique to this run
        (endpoints, identities, data account, cluster), in the given workspace; prints the stack name.
    azureml-endpoints e2e check-online response.json
        the endpoint's answer to ml/sample-request.json equals the shipped model's predictions.
    azureml-endpoints e2e check-batch predictions.csv
        the batch job's output holds one row per input row of ml/batch-data, with the model's predictions.

Exit codes: 0 done / the check passed; 1 the check failed (the message says what differs); 2 bad arguments
or unreadable input.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

import yaml

from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic
from azureml_endpoints.pulumi_io.stack_files import stack_config

NS = "azureml-endpoints:"
TOLERANCE = 1e-9  # relative: the endpoint's BLAS may round the last bits differently


def ephemeral_config(template: str, suffix: str, workspace: str, resource_group: str) -> dict:
    """The template's config with every globally or regionally unique name derived from `suffix`."""
    if not re.fullmatch(r"[0-9a-z]{1,10}", suffix):
        raise ValueError("--suffix: 1-10 lowercase letters or digits (it goes into storage account names)")
    config = stack_config(template)
    config[NS + "environment"] = "dev"
    config[NS + "workspace"] = {"name": workspace, "resourceGroup": resource_group}
    config[NS + "dataStorage"] = {**config.get(NS + "dataStorage", {}), "accountName": f"ste2e{suffix}"[:24]}
    for i, endpoint in enumerate(config.get(NS + "onlineEndpoints", [])):
        endpoint["name"] = f"e2e-{suffix}-on{i}"
        endpoint["protect"] = False
        if endpoint["identity"]["type"] == "UserAssigned":
            endpoint["identity"]["userAssignedIdentityName"] = f"id-e2e-{suffix}-on{i}"
    for i, endpoint in enumerate(config.get(NS + "batchEndpoints", [])):
        endpoint["name"] = f"e2e-{suffix}-b{i}"
        endpoint["protect"] = False
        compute = endpoint["compute"]
        compute["name"] = f"e2e{suffix}b{i}"[:16]
        if compute["identity"]["type"] == "UserAssigned":
            compute["identity"]["userAssignedIdentityNames"] = [
                f"id-e2e-{suffix}-b{i}-{n}" for n in range(len(compute["identity"]["userAssignedIdentityNames"]))
            ]
    return config


def expected_online() -> list[float]:
    import joblib
    import numpy

    model = joblib.load(project_dir() / "ml/model-1/model/sklearn_regression_model.pkl")
    return model.predict(numpy.array(json.loads((project_dir() / "ml/sample-request.json").read_text())["data"])).tolist()


def expected_batch() -> dict[tuple[str, int], float]:
    import joblib
    import numpy

    model = joblib.load(project_dir() / "ml/model-1/model/sklearn_regression_model.pkl")
    expected = {}
    for path in sorted((project_dir() / "ml/batch-data").glob("*.csv")):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        for i, p in enumerate(model.predict(numpy.array(rows, dtype=float))):
            expected[(path.name, i)] = float(p)
    return expected


def finite(value: object) -> bool:
    """A prediction is a finite number: Infinity would pass the relative tolerance (inf <= tolerance * inf)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), 1.0)


def check_online(answer: object) -> str | None:
    """None when the answer is the model's predictions for the sample request, else what differs."""
    expected = expected_online()
    if not isinstance(answer, list) or len(answer) != len(expected) or not all(finite(v) for v in answer):
        return f"expected {len(expected)} predictions, got {json.dumps(answer)[:200]}"
    wrong = [i for i, (a, b) in enumerate(zip(answer, expected)) if not close(a, b)]
    return f"predictions {wrong} differ: got {answer}, expected {expected}" if wrong else None


def check_batch(text: str) -> str | None:
    """None when every input row has exactly one right prediction (AppendRow lines `<file>,<row>,<value>`)."""
    expected = expected_batch()
    seen: dict[tuple[str, int], float] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().split(",")
        if len(parts) != 3:
            return f"line {number}: expected <file>,<row>,<prediction>, got {line!r}"
        key = (parts[0], int(parts[1]))
        if key in seen:
            return f"line {number}: {parts[0]} row {parts[1]} appears twice"
        seen[key] = float(parts[2])
        if not finite(seen[key]):
            return f"line {number}: the prediction {parts[2]!r} is not a finite number"
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    if missing or extra:
        return f"rows missing: {missing[:5]}, unexpected: {extra[:5]}"
    wrong = [k for k in expected if not close(seen[k], expected[k])]
    return f"wrong predictions for {wrong[:5]}" if wrong else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints e2e",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 done or check passed; 1 check failed; 2 bad arguments or input.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="write an ephemeral stack file")
    stack.add_argument("--suffix", required=True)
    stack.add_argument("--workspace", required=True)
    stack.add_argument("--resource-group", required=True)
    stack.add_argument("--template", default="dev")
    sub.add_parser("check-online", help="check the online answer").add_argument("file", type=Path)
    sub.add_parser("check-batch", help="check the batch output").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "stack":
            config = ephemeral_config(args.template, args.suffix, args.workspace, args.resource_group)
            name = f"e2e-{args.suffix}"
            header = f"# Ephemeral stack of the e2e workflow, from Pulumi.{args.template}.yaml (azureml-endpoints e2e stack).\n"
            write_atomic(project_dir() / f"Pulumi.{name}.yaml", header + yaml.safe_dump({"config": config}, sort_keys=False))
            print(name)
            return 0
        text = args.file.read_text()
        problem = check_online(json.loads(text)) if args.command == "check-online" else check_batch(text)
    except (ValueError, OSError, WriteFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if problem:
        print(f"check failed: {problem}", file=sys.stderr)
        return 1
    print("check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
