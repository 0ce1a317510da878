"""README's first command: the offline preview, its policy verdicts, graph and estimates."""

import json
import re

import pytest
import yaml

from azureml_endpoints.cli.preview import main
from azureml_endpoints.offline.estimates import dependency_graph, reserved_cores, time_estimate
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks


def stack_file(tmp_path, stack: str, change) -> str:
    document = yaml.safe_load((project_dir() / f"Pulumi.{stack}.yaml").read_text())
    change(document["config"])
    path = tmp_path / f"Pulumi.{stack}-variant.yaml"
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.mark.parametrize("stack", shipped_stacks())
def test_every_shipped_stack_previews_cleanly(stack, tmp_path, capsys):
    assert main(["--stack", stack, "--graph", str(tmp_path / "g.mmd")]) == 0
    out = capsys.readouterr().out
    assert "to create" in out and "Time: critical path" in out


def test_dev_preview_prints_the_plan_and_findings(tmp_path, capsys):
    assert main(["--stack", "dev", "--graph", str(tmp_path / "g.mmd")]) == 0
    out = capsys.readouterr().out
    assert "azure-native:machinelearningservices:OnlineEndpoint    mi-uai-dev-endpoint    [identity UserAssigned, auth Key]" in out
    assert "AcrPull -> registries/" in out
    # Per deployment: which model version, code (with script) and environment it runs.
    assert "[Standard_DS3_v2 x 1, model sklearn-regression:1, code onlinescoring:" in out
    assert "score_managedidentity.py, environment sklearn-scoring:" in out
    assert "[traffic blue 100%]" in out and "[default deployment blue]" in out
    assert "onlineEndpointKeys: [secret]" in out and "pk-" not in out
    assert "advisory: [endpoint-entra-auth] mi-uai-dev-endpoint: authMode is Key" in out
    assert "mi-uai-dev-blue: 1 x Standard_DS3_v2 (4 cores) -> 8 cores" in out


def test_mandatory_violation_exits_2_and_names_it(tmp_path, capsys):
    def key_auth(config):
        config["azureml-endpoints:onlineEndpoints"][0]["authMode"] = "Key"

    code = main(["--stack", "prod", "--stack-file", stack_file(tmp_path, "prod", key_auth), "--graph", str(tmp_path / "g.mmd")])
    assert code == 2
    assert "mandatory: [endpoint-entra-auth] mi-uai-prod-endpoint: authMode is Key" in capsys.readouterr().out


def test_broken_config_exits_1_naming_the_key(tmp_path, capsys):
    def bad_traffic(config):
        config["azureml-endpoints:onlineEndpoints"][0]["traffic"] = {"blue": 50}

    assert main(["--stack", "dev", "--stack-file", stack_file(tmp_path, "dev", bad_traffic)]) == 1
    err = capsys.readouterr().err
    assert "azureml-endpoints:onlineEndpoints[0].traffic: percentages must sum to 100 (they sum to 50)" in err


def test_unknown_stack_exits_1(capsys):
    assert main(["--stack", "nope"]) == 1
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_json_has_every_section(tmp_path, capsys):
    assert main(["--stack", "prod", "--json", "--graph", str(tmp_path / "g.mmd")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"stack", "steps", "outputs", "violations", "landingZone", "quota", "time", "graph"}
    endpoint = next(s for s in doc["steps"] if s["name"] == "mi-uai-prod-endpoint")
    assert endpoint["protect"] and endpoint["details"] == "identity UserAssigned, auth AADToken, public network access Disabled protected"
    assert "traffic blue 100%, green 0%; mirror green 10%" in [s["details"] for s in doc["steps"]]
    assert doc["violations"] == []
    # prod: blue autoscales to at most 6 x DS3_v2 -> ceil(7.2) * 4 = 32 cores; green 3 -> ceil(3.6) * 4 = 16.
    assert doc["quota"]["coresPerFamily"] == {"standardDSv2Family": 48}
    assert doc["time"]["criticalPathSeconds"][0] < doc["time"]["serialSeconds"][0]


def test_quota_for_ten_ds3_v2_is_48_cores(tmp_path, capsys):
    assert reserved_cores(10, 4) == 48

    def ten(config):
        config["azureml-endpoints:onlineEndpoints"][0]["deployments"][0]["instanceCount"] = 10

    assert main(["--stack", "dev", "--json", "--stack-file", stack_file(tmp_path, "dev", ten), "--graph", str(tmp_path / "g.mmd")]) == 0
    doc = json.loads(capsys.readouterr().out)
    # dev's batch cluster adds up to 5 x STANDARD_D2_V2 (2 vCPUs, Dv2 family) = 10 cores.
    assert doc["quota"]["coresPerFamily"] == {"standardDSv2Family": 48, "standardDv2Family": 10}


def test_quota_counts_the_batch_cluster_at_its_maximum_size(tmp_path, capsys):
    def low_priority_d4(config):
        compute = config["azureml-endpoints:batchEndpoints"][0]["compute"]
        compute.update(vmSize="Standard_D4_v2", maxNodes=3, vmPriority="LowPriority")

    assert main(["--stack", "dev", "--json", "--graph", str(tmp_path / "g.mmd")]) == 0
    (cluster,) = json.loads(capsys.readouterr().out)["quota"]["clusters"]
    assert cluster == {
        "cluster": "batch-dev-cluster-compute",
        "vmSize": "Standard_D2_v2",
        "maxNodes": 5,
        "coresPerNode": 2,
        "family": "standardDv2Family",
        "priority": "Dedicated",
        "reservedCores": 10,
    }
    stack = stack_file(tmp_path, "dev", low_priority_d4)
    assert main(["--stack", "dev", "--json", "--stack-file", stack, "--graph", str(tmp_path / "g.mmd")]) == 0
    doc = json.loads(capsys.readouterr().out)
    # Low-priority cores count against the region's one low-priority total, not the family.
    assert doc["quota"]["coresPerFamily"] == {"lowPriorityCores": 24, "standardDSv2Family": 8}


def test_mermaid_graph_parses(tmp_path, capsys):
    graph_path = tmp_path / "dev.mmd"
    summary = tmp_path / "dev.md"
    assert main(["--stack", "dev", "--graph", str(graph_path), "--summary", str(summary)]) == 0
    text = graph_path.read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "flowchart LR"
    declared = {m.group(1) for line in lines if (m := re.match(r'^(n\d+)\["[^"]+"\]$', line))}
    subgraphs = [line for line in lines if line.startswith("subgraph ")]
    assert len(subgraphs) == lines.count("end") == len(dev_components())  # one per component
    edges = [re.match(r"^(\w+) --> (\w+)$", line) for line in lines if "-->" in line]
    assert edges and all(e is not None for e in edges)
    assert all(e.group(1) in declared and e.group(2) in declared for e in edges)
    assert len(declared) == len(evaluate("dev").registrations) - len(dev_components())  # every custom resource
    report = summary.read_text()
    assert report.startswith("## Offline preview: `dev`") and "```mermaid\nflowchart LR" in report
    assert "| advisory | `endpoint-entra-auth` | `mi-uai-dev-endpoint` | authMode is Key" in report


def test_critical_path_of_dev_is_the_chain_azure_requires(dev):
    graph = dependency_graph(dev.registrations)
    timing = time_estimate(graph)
    # The identity must exist before the endpoint names it, the endpoint before its deployment, the
    # deployment before traffic can name it. Nothing else sits on the path.
    assert timing.critical_path == ["mi-uai-dev-identity", "mi-uai-dev-endpoint", "mi-uai-dev-blue", "mi-uai-dev-traffic"]


def test_no_dependency_azure_does_not_need(dev):
    endpoints = {r.urn for r in dev.registrations if r.type.endswith("Endpoint") and r.custom}
    for r in dev.registrations:
        if r.type.startswith("azure-native:machinelearningservices:") and r.type.endswith("Version"):
            assert not endpoints & set(r.dependencies), f"{r.name} waits for an endpoint"
        if r.type == "azure-native:authorization:RoleAssignment" and r.name.startswith("mi-uai-dev-"):
            assert not endpoints & set(r.dependencies), f"{r.name} waits for an endpoint"
        if r.type == "azure-native:machinelearningservices:Compute":
            assert not endpoints & set(r.dependencies)


def dev_components():
    return [r for r in evaluate("dev").registrations if not r.custom]


def test_an_autoscaled_deployment_shows_that_its_count_is_only_the_first(capsys, tmp_path):
    assert main(["--stack", "prod", "--graph", str(tmp_path / "g.mmd")]) == 0
    out = capsys.readouterr().out
    assert "mi-uai-prod-blue    [Standard_DS3_v2 x 3, model sklearn-regression:1" in out
    assert "[autoscale-mi-uai-prod-blue: 3 to 6 instances, the deployment's count is Azure's]" in out
    assert "mi-uai-prod-green    [Standard_DS3_v2 x 3, model sklearn-regression:2" in out
