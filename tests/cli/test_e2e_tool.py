"""azureml_endpoints.cli.e2e: the e2e workflow's ephemeral stack is a valid stack, and its checks accept right answers only."""

import json

import yaml

from azureml_endpoints.cli import e2e
from azureml_endpoints.cli.preview import main as preview
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.pulumi_io.stack_files import stack_config

ML = "azure-native:machinelearningservices:"


def test_ephemeral_stack_renames_everything_unique_and_passes_the_policy_pack(tmp_path, capsys):
    config = e2e.ephemeral_config("dev", "12345678", "mlw-e2e", "rg-e2e")
    evaluation = evaluate("e2e-12345678", config=config)
    endpoints = {r.inputs["endpointName"] for r in evaluation.of_type(ML + "OnlineEndpoint")}
    batch = {r.inputs["endpointName"] for r in evaluation.of_type(ML + "BatchEndpoint")}
    assert endpoints == {"e2e-12345678-on0"} and batch == {"e2e-12345678-b0"}
    assert {r.inputs["computeName"] for r in evaluation.of_type(ML + "Compute")} == {"e2e12345678b0"}
    assert evaluation.named("data-account").inputs["accountName"] == "ste2e12345678"
    assert all(not r.protect for r in evaluation.registrations)  # destroy must be able to remove everything
    assert stack_config("dev")["azureml-endpoints:onlineEndpoints"][0]["name"] == "mi-uai-dev"  # template untouched
    stack_file = tmp_path / "Pulumi.e2e-12345678.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    assert preview(["--stack", "e2e-12345678", "--stack-file", str(stack_file), "--json", "--graph", str(tmp_path / "g.mmd")]) == 0
    assert [v for v in json.loads(capsys.readouterr().out)["violations"] if v["level"] == "mandatory"] == []


def test_suffix_must_fit_a_storage_account_name(capsys):
    assert e2e.main(["stack", "--suffix", "Bad_Suffix", "--workspace", "w", "--resource-group", "g"]) == 2
    assert "--suffix: 1-10 lowercase letters or digits" in capsys.readouterr().err


def test_online_check(tmp_path):
    right = e2e.expected_online()
    assert e2e.check_online(right) is None
    assert "differ" in e2e.check_online([right[0], right[1] + 1])
    assert "expected 2 predictions" in e2e.check_online({"message": "bad request"})
    answer = tmp_path / "response.json"
    answer.write_text(json.dumps(right))
    assert e2e.main(["check-online", str(answer)]) == 0
    answer.write_text("[1, 2]")
    assert e2e.main(["check-online", str(answer)]) == 1
    answer.write_text("[Infinity, Infinity]")  # Python's json reads it; inf - x <= tolerance * inf would pass
    assert e2e.main(["check-online", str(answer)]) == 1
    assert "expected 2 predictions" in e2e.check_online([True, True])


def test_batch_check():
    expected = e2e.expected_batch()
    assert len(expected) == 30
    lines = [f"{name},{row},{value}" for (name, row), value in expected.items()]
    assert e2e.check_batch("\n".join(lines)) is None
    assert "rows missing" in e2e.check_batch("\n".join(lines[1:]))
    assert "appears twice" in e2e.check_batch("\n".join(lines + lines[:1]))
    name, row, value = lines[0].split(",")
    assert "wrong predictions" in e2e.check_batch("\n".join([f"{name},{row},{float(value) + 1}"] + lines[1:]))
    assert "not a finite number" in e2e.check_batch("\n".join([f"{name},{row},inf"] + lines[1:]))
