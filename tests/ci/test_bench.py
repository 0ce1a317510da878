"""The benchmark's floor is honest: it registers exactly the program's azure-native resources and inputs."""

import json

from azureml_endpoints.offline.evaluate import REPO, evaluate
from benchmarks.bench_preview import floor_spec, generated_stack


def test_floor_registers_the_same_resources_and_inputs(tmp_path, monkeypatch, dev):
    spec = tmp_path / "floor.json"
    spec.write_text(json.dumps(floor_spec()))
    monkeypatch.setenv("BENCH_FLOOR_SPEC", str(spec))
    floor = evaluate("dev", program=REPO / "benchmarks/floor_program.py")
    real = {r.name: (r.type, r.inputs) for r in dev.registrations if r.custom and r.type.startswith("azure-native:")}
    assert {r.name: (r.type, r.inputs) for r in floor.registrations} == real
    assert not [r for r in floor.registrations if not r.custom]  # no components in the floor


def test_generated_stacks_scale_the_online_endpoints():
    config = generated_stack(10)["config"]
    endpoints = config["azureml-endpoints:onlineEndpoints"]
    assert len(endpoints) == 10 and len({e["name"] for e in endpoints}) == 10
    evaluation = evaluate("dev", config=config)
    assert len(evaluation.of_type("azure-native:machinelearningservices:OnlineEndpoint")) == 10
