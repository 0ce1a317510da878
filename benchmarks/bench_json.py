"""Benchmark: peak memory of azureml_endpoints.cli.guard and azureml_endpoints.cli.drift on large generated Pulumi JSON documents.

    python -m benchmarks.bench_json [--megabytes 200] [--keep DIR]

Writes a preview digest (`pulumi preview --refresh --json` shape, indented as the CLI writes it) and an
engine event stream of a refresh, each about --megabytes large, runs each tool on each in its own process,
and prints the peak resident set size (the child's ru_maxrss) and the wall time. For scale it also
measures a process that only `json.load`s the digest whole, as the readers did before they streamed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azureml_endpoints.paths import REPO

TYPE = "azure-native:storage:StorageAccount"


def _state(i: int, owner: str) -> dict:
    urn = f"urn:pulumi:prod::azureml-endpoints::{TYPE}::acct{i}"
    props = {
        "accountName": f"acct{i}",
        "tags": {"owner": owner, "costCenter": "ml"},
        "blob": "x" * 1500,
        "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"value": f"10.0.{i % 250}.0/24"}] * 10},
    }
    return {
        "urn": urn,
        "custom": True,
        "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct{i}",
        "type": TYPE,
        "inputs": props,
        "outputs": dict(props, primaryEndpoints={"blob": f"https://acct{i}.blob"}),
        "protect": False,
    }


def write_digest(path: Path, megabytes: int) -> int:
    """A `preview --refresh` digest: a refresh step and a planned update per resource; returns the steps."""
    count = 0
    with open(path, "w") as out:
        out.write('{\n    "config": {},\n    "steps": [\n')
        while out.tell() < megabytes * 2**20:
            old, new = _state(count, "someone-else"), _state(count, "ml-platform")
            for step in (
                {"op": "refresh", "urn": old["urn"], "oldState": old, "newState": old},
                {
                    "op": "update",
                    "urn": old["urn"],
                    "oldState": old,
                    "newState": new,
                    "detailedDiff": {"tags.owner": {"kind": "update", "inputDiff": True}},
                },
            ):
                out.write(("" if count == 0 and step["op"] == "refresh" else ",\n") + json.dumps(step, indent=4))
            count += 1
        out.write(f'\n    ],\n    "changeSummary": {{"update": {count}}}\n}}\n')
    return count * 2


def write_events(path: Path, megabytes: int) -> int:
    """An engine event stream of a refresh that finds every resource's owner tag changed."""
    count = 0
    with open(path, "w") as out:
        out.write(json.dumps({"sequence": 0, "preludeEvent": {"config": {}}}) + "\n")
        while out.tell() < megabytes * 2**20:
            old, new = _state(count, "ml-platform"), _state(count, "someone-else")
            meta = {"urn": old["urn"], "type": TYPE, "old": old}
            out.write(json.dumps({"resourcePreEvent": {"metadata": dict(meta, op="refresh", new=old)}}) + "\n")
            out.write(json.dumps({"resOutputsEvent": {"metadata": dict(meta, op="update", new=new)}}) + "\n")
            count += 1
        out.write(json.dumps({"summaryEvent": {"resourceChanges": {"update": count}}}) + "\n")
    return count * 2


def measure(argv: list[str]) -> tuple[int, float, float]:
    """(exit code, peak RSS in MiB, seconds) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_json", description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=200, help="size of each generated document")
    parser.add_argument("--keep", type=Path, help="write the documents here and keep them")
    args = parser.parse_args(argv)
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-json-"))
    directory.mkdir(parents=True, exist_ok=True)
    documents = {"digest": directory / "preview-refresh.json", "events": directory / "refresh-events.jsonl"}
    steps = {"digest": write_digest(documents["digest"], args.megabytes), "events": write_events(documents["events"], args.megabytes)}
    print(f"{'document':<8} {'MiB':>6} {'steps':>7}  {'command':<28} {'exit':>4} {'peak RSS MiB':>13} {'seconds':>8}")
    for shape, path in documents.items():
        size = path.stat().st_size / 2**20
        runs = [
            ("azureml_endpoints.cli.guard", [sys.executable, "-m", "azureml_endpoints.cli.guard", str(path)]),
            ("azureml_endpoints.cli.drift", [sys.executable, "-m", "azureml_endpoints.cli.drift", str(path)]),
        ]
        if shape == "digest":
            runs.append(("json.load (whole document)", [sys.executable, "-c", f"import json; json.load(open({str(path)!r}))"]))
        for name, command in runs:
            code, rss, seconds = measure(command)
            print(f"{shape:<8} {size:>6.0f} {steps[shape]:>7}  {name:<28} {code:>4} {rss:>13.1f} {seconds:>8.1f}")
    if not args.keep:
        for path in documents.values():
            path.unlink()
        directory.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
