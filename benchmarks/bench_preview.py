"""Benchmark of the offline preview, as ratios measured in one run (the machines are noisy).

    python -m benchmarks.bench_preview [--rounds 7] [--ratio-only] [--no-bytecode-cache]

Each measurement is a whole process, run in interleaved rounds so drift hits every variant alike:
  - program: evaluating the dev stack's program under the mocks;
  - floor:   the same azure-native resources registered directly, importing the same azure-native modules
             the program loaded for dev (benchmarks/floor_program.py), same harness;
  - preview N: the full preview (program, policy pack over gRPC, graph, estimates) of the dev config with
    N = 1, 10, 50 online endpoints generated from its endpoint (left out with --ratio-only).
Prints medians of wall and CPU (user + system) seconds, the program/floor ratio as the median of the
per-round ratios, and the cost per extra endpoint over 1 -> 10 and 10 -> 50 (equal when it is flat).
The processes cache bytecode as Python does by default (PYTHONDONTWRITEBYTECODE is removed from their
environment); --no-bytecode-cache sets it, so every process compiles this repository's modules again.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import yaml

from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO
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


def loaded_azure_native_modules() -> list[str]:
    """The azure-native modules this process has executed. azure-native registers every module lazily
    (a placeholder in sys.modules), so only a module whose type is plain ModuleType was really imported."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith("pulumi_azure_native.") and name.count(".") == 1 and type(module) is types.ModuleType
    )


def floor_spec() -> dict:
    """What the floor does for dev: the program's azure-native resources, and the modules it imported (read
    from a fresh process: this one may have imported more)."""
    dev = evaluate("dev")
    child = [sys.executable, "-m", "benchmarks.bench_preview", "--child", "__main__.py", "--print-modules"]
    modules = json.loads(subprocess.run(child, check=True, capture_output=True, text=True, cwd=REPO).stdout.splitlines()[-1])
    return {
        "modules": modules,
        "resources": [
            {"type": r.type, "name": r.name, "inputs": r.inputs, "id": r.id}
            for r in dev.registrations
            if r.custom and r.type.startswith("azure-native:")
        ],
    }


def child_evaluate(program: str, print_modules: bool = False) -> None:
    """Runs inside a measured process: one evaluation of the dev config with `program`."""
    evaluate("dev", program=REPO / program)
    if print_modules:
        print(json.dumps(loaded_azure_native_modules()))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system of the child and what it waited for) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=REPO, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def per_round(first: list[float], second: list[float]) -> list[tuple[float, float]]:
    """Samples paired by round: a pair shares the machine's state, so its ratio or difference drifts less."""
    return list(zip(first, second))


def report(clock: str, samples: dict[str, list[float]]) -> None:
    print(f"{clock}: median seconds (min to max)")
    for name, values in samples.items():
        print(f"  {name:<12} {statistics.median(values):6.2f} s   ({min(values):.2f} to {max(values):.2f})")
    ratio = statistics.median(p / f for p, f in per_round(samples["program"], samples["floor"]))
    print(f"  program / floor (median of per-round ratios): {ratio:.2f}")
    if "preview 1" not in samples:
        return
    for n in ENDPOINT_COUNTS[1:]:
        growth = statistics.median(b / a for a, b in per_round(samples["preview 1"], samples[f"preview {n}"]))
        print(f"  preview {n} / preview 1: {growth:.2f}")
    for low, high in zip(ENDPOINT_COUNTS, ENDPOINT_COUNTS[1:]):
        pairs = per_round(samples[f"preview {low}"], samples[f"preview {high}"])
        cost = statistics.median((b - a) / (high - low) for a, b in pairs)
        print(f"  cost per extra online endpoint, {low} -> {high}: {cost * 1000:.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ratio-only", action="store_true", help="measure the program and the floor only")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="compile every module in every process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--print-modules", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_evaluate(args.child, args.print_modules)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    spec = workdir / "floor.json"
    spec.write_text(json.dumps(floor_spec()))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.no_bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    floor_env = {**env, "BENCH_FLOOR_SPEC": str(spec)}
    py = sys.executable
    variants = {
        "program": ([py, "-m", "benchmarks.bench_preview", "--child", "__main__.py"], env),
        "floor": ([py, "-m", "benchmarks.bench_preview", "--child", "benchmarks/floor_program.py"], floor_env),
    }
    for n in () if args.ratio_only else ENDPOINT_COUNTS:
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
        variants[f"preview {n}"] = (command, env)

    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for command, env in variants.values():  # warm-up: imports and file caches
        timed(command, env)
    for _ in range(args.rounds):
        for name, (command, env) in variants.items():
            w, c = timed(command, env)
            wall[name].append(w)
            cpu[name].append(c)

    cache = "off" if args.no_bytecode_cache else "on"
    print(
        f"rounds: {args.rounds}, interleaved, whole processes, bytecode cache {cache}; floor imports {', '.join(json.loads(spec.read_text())['modules'])}"
    )
    report("wall", wall)
    report("cpu (user + system)", cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
