"""The benchmark's floor is honest: it registers exactly the program's azure-native resources and inputs, and
imports the same azure-native modules; a stack imports only the features it names."""

import json
import subprocess
import sys

import pytest

from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config
from benchmarks.bench_preview import floor_spec, generated_stack

NAMESPACE = "azureml-endpoints"
# What each optional feature imports; the first module is its component, the others what it needs (a module
# two features need, such as Log Analytics, may load for either).
FEATURE_MODULES = {
    "workspace creation": (
        "components.workspace.create",
        "pulumi_azure_native.keyvault",
        "pulumi_azure_native.containerregistry",
        "pulumi_azure_native.applicationinsights",
        "pulumi_azure_native.operationalinsights",
        "pulumi_azure_native.monitor",  # the created workspace's and its dependencies' diagnostic settings
    ),
    "monitoring": (
        "components.endpoint_monitoring.StackMonitoring",
        "pulumi_azure_native.monitor",
        "pulumi_azure_native.operationalinsights",
    ),
    "autoscale": ("components.autoscale",),
    "callers": ("components.endpoint_callers", "pulumi_azuread"),
    "batch": ("components.batch_endpoint", "components.compute_cluster"),
    "private networking": (
        "components.network",
        "components.private_endpoint",
        "pulumi_azure_native.network",
        "pulumi_azure_native.privatedns",
    ),
}


def loaded_after(stack: str, program: str = "__main__.py", env: dict | None = None) -> set[str]:
    """Modules a fresh process has executed after evaluating `stack`: azure-native's lazy placeholders
    (not yet executed) do not count. A used StackMonitoring counts as 'components.endpoint_monitoring.StackMonitoring'."""
    script = (
        "import json, sys, types\n"
        "from azureml_endpoints.offline.evaluate import evaluate\n"
        "from azureml_endpoints.paths import REPO\n"
        f"evaluation = evaluate({stack!r}, program=REPO / {program!r})\n"
        "loaded = [n for n, m in list(sys.modules.items()) if type(m) is types.ModuleType]\n"
        "loaded += ['components.endpoint_monitoring.StackMonitoring'] * any(\n"
        "    r.type == 'azureml-endpoints:monitor:StackMonitoring' for r in evaluation.registrations)\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, env=env, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def features_named(stack: str) -> set[str]:
    config = stack_config(stack)
    online = config.get(f"{NAMESPACE}:onlineEndpoints") or []
    named = {
        "workspace creation": config[f"{NAMESPACE}:workspace"].get("create") is True,
        "monitoring": bool(config.get(f"{NAMESPACE}:monitoring")) and bool(online),
        "autoscale": any("autoscale" in d for e in online for d in e["deployments"]),
        "callers": any("callers" in e for e in online),
        "batch": bool(config.get(f"{NAMESPACE}:batchEndpoints")),
        "private networking": bool(config.get(f"{NAMESPACE}:network")),
    }
    return {feature for feature, used in named.items() if used}


def test_floor_registers_the_same_resources_and_inputs(tmp_path, monkeypatch, dev):
    spec = tmp_path / "floor.json"
    spec.write_text(json.dumps(floor_spec()))
    monkeypatch.setenv("BENCH_FLOOR_SPEC", str(spec))
    floor = evaluate("dev", program=REPO / "benchmarks/floor_program.py")
    real = {r.name: (r.type, r.inputs) for r in dev.registrations if r.custom and r.type.startswith("azure-native:")}
    assert {r.name: (r.type, r.inputs) for r in floor.registrations} == real
    assert not [r for r in floor.registrations if not r.custom]  # no components in the floor


def test_floor_imports_the_azure_native_modules_the_program_imports(tmp_path):
    """The ratio measures the program's own work: azure-native's import time is in both or in neither."""
    spec = tmp_path / "floor.json"
    spec.write_text(json.dumps(floor_spec()))

    def azure_native(modules: set[str]) -> set[str]:
        return {m for m in modules if m.startswith("pulumi_azure_native.") and m.count(".") == 1}

    program = azure_native(loaded_after("dev"))
    floor = azure_native(loaded_after("dev", "benchmarks/floor_program.py", env={"BENCH_FLOOR_SPEC": str(spec), "PATH": ""}))
    assert "pulumi_azure_native.machinelearningservices" in program
    assert floor == program == set(json.loads(spec.read_text())["modules"])


@pytest.mark.parametrize("stack", shipped_stacks())
def test_a_stack_imports_only_the_features_it_names(stack):
    loaded = loaded_after(stack)
    named = features_named(stack)
    needed = {m for feature in named for m in FEATURE_MODULES[feature]}
    for feature, (component, *others) in FEATURE_MODULES.items():
        if feature in named:
            assert component in loaded, f"{stack} names {feature} and should import {component}"
        else:
            unneeded = sorted(m for m in (component, *others) if m in loaded and m not in needed)
            assert not unneeded, f"{stack} does not name {feature} yet imports {unneeded}"


def test_generated_stacks_scale_the_online_endpoints():
    config = generated_stack(10)["config"]
    endpoints = config["azureml-endpoints:onlineEndpoints"]
    assert len(endpoints) == 10 and len({e["name"] for e in endpoints}) == 10
    evaluation = evaluate("dev", config=config)
    assert len(evaluation.of_type("azure-native:machinelearningservices:OnlineEndpoint")) == 10
