"""Evaluates the Pulumi program for a stack under the ARM-like mocks, without Azure or the Pulumi CLI.

Used by the tests and the offline preview: it reads `Pulumi.<stack>.yaml` of a project the way the CLI does
(azureml_endpoints/pulumi_io/stack_files.py), runs the program with that project as the one its repository
paths are relative to (azureml_endpoints/paths.py), and returns every registration (inputs, outputs,
dependencies, options) and the stack outputs.
"""

from __future__ import annotations

import gc
import json
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime import stack as runtime_stack
from pulumi.runtime.sync_await import _sync_await

from azureml_endpoints.config.network import IsolationMode
from azureml_endpoints.offline.arm_mocks import ArmMocks, FakeWorkspace, RecordingMonitor, Registration
from azureml_endpoints.paths import PROGRAM, using_project
from azureml_endpoints.paths import project_dir as current_project
from azureml_endpoints.pulumi_io.stack_files import project_defaults, project_name, stack_config


@dataclass
class Evaluation:
    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    mocks: ArmMocks
    error: BaseException | None = None  # set only when evaluate(raise_errors=False) caught one

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def _object(value: Any) -> Any:
    """A config value that should be an object; a string is JSON (the program's own check names the key otherwise)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def workspaces_for(config: Mapping[str, Any]) -> list[FakeWorkspace]:
    """The fake Azure holds the workspace a stack names, as an existing workspace would be (a workspace the
    stack creates exists only once the program has created it). A private stack's looked-up workspace has the
    managed network its owner was asked for, the stack's isolationMode: offline there is no other to read (the
    real `pulumi preview` reads Azure's); pass `workspaces` to play a workspace that is less isolated."""
    ws = _object(config.get(f"{project_name()}:workspace"))
    if not isinstance(ws, dict) or "name" not in ws or "resourceGroup" not in ws or ws.get("create") is True:
        return []
    network = _object(config.get(f"{project_name()}:network"))
    # Pulumi.yaml's default `{}` is no network, as the program reads it.
    mode = network.get("isolationMode", IsolationMode.ALLOW_ONLY_APPROVED_OUTBOUND.value) if isinstance(network, dict) and network else None
    isolation = mode if mode in {m.value for m in IsolationMode} else IsolationMode.DISABLED.value
    return [FakeWorkspace(name=ws["name"], resource_group=ws["resourceGroup"], isolation_mode=isolation)]


def registries_for(config: Mapping[str, Any]) -> list[str]:
    """The fake Azure holds the Azure ML registries a private stack names (network.registries), as Azure holds
    them outside the stack: its private endpoint rules target them."""
    network = _object(config.get(f"{project_name()}:network"))
    registries = network.get("registries") if isinstance(network, dict) else None
    if not isinstance(registries, list):
        return []
    return [r["resourceId"] for r in registries if isinstance(r, dict) and isinstance(r.get("resourceId"), str)]


def evaluate(
    stack: str,
    config: Mapping[str, Any] | None = None,
    workspaces: list[FakeWorkspace] | None = None,
    preview: bool = False,
    raise_errors: bool = True,
    program: Path | None = None,
    project_dir: Path | None = None,
    azure: ArmMocks | None = None,
) -> Evaluation:
    """Runs a project's program (or another `program`) for a stack.

    `config` replaces the stack file's config, `workspaces` the fake Azure's; `project_dir` selects the
    Pulumi project (default `project_dir()`: a team's repository, the tests' fixture project, or bootstrap/).
    The program is the project's own `__main__.py` when it has one (bootstrap/), else the product's. `azure` is the
    fake Azure a previous evaluation left (its `mocks`): the run is then the next `up` against it.

    With raise_errors=False a failing program still returns what it registered, with `error` set.
    """
    project_dir = Path(project_dir or current_project()).resolve()
    program = program or (project_dir / "__main__.py" if (project_dir / "__main__.py").is_file() else PROGRAM)
    if str(program.parent) not in sys.path:  # the program imports its neighbours (components/, bootstrap's modules)
        sys.path.insert(0, str(program.parent))
    error = None
    collecting = gc.isenabled()
    with using_project(project_dir):
        config = {**project_defaults(), **(stack_config(stack) if config is None else config)}
        mocks = azure or ArmMocks(workspaces if workspaces is not None else workspaces_for(config), registries_for(config))
        monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(mocks, project=project_name(), stack=stack, preview=preview, monitor=monitor)
        pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
        runtime_settings.ROOT.set(None)  # set_mocks finishes a root stack at once; the program needs a live one
        # The cyclic collector is off while the program runs: nearly everything the Pulumi runtime allocates
        # lives until the end (resources, outputs, tasks), so each collection rescans survivors and frees little.
        # Even at a gen0 threshold of 50,000 it took a third of a 50-endpoint evaluation, for about 20 MiB of
        # cycles that wait until it is back on (docs/performance.md#the-cyclic-garbage-collector).
        gc.disable()
        try:
            _sync_await(runtime_stack.run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
        except Exception as caught:  # noqa: BLE001 handed back to the caller below
            if raise_errors:
                raise
            error = caught
        finally:
            if collecting:
                gc.enable()
            runtime_settings.ROOT.set(None)
    return Evaluation(stack, monitor.registrations, monitor.stack_outputs, mocks, error)
