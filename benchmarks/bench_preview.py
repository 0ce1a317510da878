"""Benchmark of the offline preview, as ratios measured in one run (the machines are noisy).

    python -m benchmarks.bench_preview [--rounds 5]

Each measurement is a whole process, run in interleaved rounds so drift hits every variant alike:
  - program: evaluating the dev stack's program under the mocks;
  - floor:   the same azure-native resources registered directly (benchmarks/floor_program.py), same harness;
  - preview N: the full preview (program, policy pack over gRPC, graph, estimates) of the dev config with
    N = 1, 10, 50 online endpoints generated from its endpoint.
Prints medians, the program/floor ratio, and the per-endpoint cost from the 1 -> 50 slope.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from azureml_endpoints.offline.evaluate import REPO, evaluate
from azureml_endpoints.pulumi_io.stack_files import stack_config

ENDPOINT_COUNTS = (1, 10, 50)


def generated_stack(endpoints: int) -> dict:
    """The dev config with its online endpoint repeated `endpoints` times under distinct names."""
    config = copy.deepcopy(stack_config("dev"))
    (template,) = config["azureml-endpoints:onlineEndpoints"]
    copies = []
    for i in range(endpoints):
        endpoint = copy.deepcopy(template)
        endpoint["name"] = f"{template['name']}-{i:03d}"
        endpoint["identity"]["userAssignedIdentityName"] = f"{template['identity']['userAssignedIdentityName']}-{i:03d}"
        copies.append(endpoint)
    config["azureml-endpoints:onlineEndpoints"] = copies
    return {"config": config}


def floor_spec() -> list[dict]:
    dev = evaluate("dev")
    return [
        {"type": r.type, "name": r.name, "inputs": r.inputs, "id": r.id}
        for r in dev.registrations
        if r.custom and r.type.startswith("azure-native:")
    ]


def child_evaluate(program: str) -> None:
    """Runs inside a measured process: one evaluation of the dev config with `program`."""
    evaluate("dev", program=REPO / program)


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO, env=env)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_evaluate(args.child)
        return 0

    import os

    workdir = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    spec = workdir / "floor.json"
    spec.write_text(json.dumps(floor_spec()))
    floor_env = {**os.environ, "BENCH_FLOOR_SPEC": str(spec)}
    py = sys.executable
    variants = {
        "program": ([py, "-m", "benchmarks.bench_preview", "--child", "__main__.py"], None),
        "floor": ([py, "-m", "benchmarks.bench_preview", "--child", "benchmarks/floor_program.py"], floor_env),
    }
    for n in ENDPOINT_COUNTS:
        stack_file = workdir / f"Pulumi.dev-{n}.yaml"
        stack_file.write_text(yaml.safe_dump(generated_stack(n)))
        command = [
            py,
            "-m",
            "azureml_endpoints.cli.preview",
            "--stack",
            "dev",
            "--stack-file",
            str(stack_file),
            "--json",
            "--graph",
            str(workdir / f"{n}.mmd"),
        ]
        variants[f"preview {n}"] = (command, None)

    samples: dict[str, list[float]] = {name: [] for name in variants}
    for command, env in variants.values():  # warm-up: imports and file caches
        timed(command, env)
    for _ in range(args.rounds):
        for name, (command, env) in variants.items():
            samples[name].append(timed(command, env))

    median = {name: statistics.median(values) for name, values in samples.items()}
    ratio = statistics.median(p / f for p, f in zip(samples["program"], samples["floor"]))
    per_endpoint = statistics.median(
        (b - a) / (ENDPOINT_COUNTS[-1] - ENDPOINT_COUNTS[0])
        for a, b in zip(samples["preview 1"], samples[f"preview {ENDPOINT_COUNTS[-1]}"])
    )
    print(f"rounds: {args.rounds}, whole-process wall time, median seconds")
    for name, value in median.items():
        print(f"  {name:<12} {value:6.2f} s   (min {min(samples[name]):.2f}, max {max(samples[name]):.2f})")
    print(f"program / floor (median of per-round ratios): {ratio:.2f}")
    for n in ENDPOINT_COUNTS[1:]:
        r = statistics.median(b / a for a, b in zip(samples["preview 1"], samples[f"preview {n}"]))
        print(f"preview {n} / preview 1: {r:.2f}")
    print(f"cost per extra online endpoint (1 -> {ENDPOINT_COUNTS[-1]} slope): {per_endpoint * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
