"""`azureml-endpoints runner`: where a stack's data-plane jobs run, decided by the stack's validated `network`."""

import json

import pytest

from azureml_endpoints.cli.runner import DEFAULT_PRIVATE_LABELS, main
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks, stack_config

NS = "azureml-endpoints:"


def outputs(text: str) -> dict:
    """The `$GITHUB_OUTPUT` lines as GitHub reads them: name=value, the value JSON for runs-on."""
    lines = dict(line.split("=", 1) for line in text.splitlines())
    return {"private": lines["private"], "runs-on": json.loads(lines["runs-on"])}


@pytest.mark.parametrize("stack", shipped_stacks())
def test_a_stack_with_a_network_runs_inside_it_and_every_other_on_a_hosted_runner(stack, capsys):
    assert main(["--stack", stack]) == 0
    found = outputs(capsys.readouterr().out)
    if NS + "network" in stack_config(stack):
        assert found == {"private": "true", "runs-on": list(DEFAULT_PRIVATE_LABELS)}
    else:
        assert found == {"private": "false", "runs-on": "ubuntu-latest"}


def test_prod_and_sandbox_private_are_the_private_stacks_shipped(capsys):
    private = []
    for stack in shipped_stacks():
        main(["--stack", stack])
        if outputs(capsys.readouterr().out)["private"] == "true":
            private.append(stack)
    assert private == ["prod", "sandbox-private"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("", list(DEFAULT_PRIVATE_LABELS)),
        ('["self-hosted", "linux", "vnet-prod"]', ["self-hosted", "linux", "vnet-prod"]),
        ('{"prod": ["self-hosted", "vnet-prod"], "sandbox-private": ["self-hosted", "vnet-sbx"]}', ["self-hosted", "vnet-prod"]),
    ],
)
def test_the_private_labels_come_from_the_option_as_a_list_or_per_stack(labels, expected, capsys):
    assert main(["--stack", "prod", "--private-labels", labels]) == 0
    assert outputs(capsys.readouterr().out)["runs-on"] == expected


def test_a_public_stack_ignores_the_private_labels(capsys):
    assert main(["--stack", "dev", "--private-labels", '["self-hosted", "vnet-prod"]']) == 0
    assert outputs(capsys.readouterr().out)["runs-on"] == "ubuntu-latest"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ('["ubuntu-latest"]', "must include 'self-hosted': without it a private stack's job may run on a GitHub-hosted runner"),
        ("[]", "must be a non-empty JSON list of runner labels"),
        ('["self-hosted", ""]', "must be a non-empty JSON list of runner labels"),
        ('["self-hosted", "Self-Hosted"]', "names a label twice"),
        ('"self-hosted"', "must be a non-empty JSON list of runner labels"),
        ("self-hosted,vnet", "is not JSON"),
        ('{"staging": ["self-hosted"]}', "names no runner labels for stack 'prod' (it names: staging)"),
    ],
)
def test_bad_private_labels_are_refused_in_one_line_with_exit_2(labels, message, capsys):
    assert main(["--stack", "prod", "--private-labels", labels]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_a_missing_stack_or_a_refused_config_exits_1_in_one_line(tmp_path, monkeypatch, capsys):
    assert main(["--stack", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no stack file Pulumi.nope.yaml" in err and len(err.strip().splitlines()) == 1
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: azureml-endpoints\nruntime: python\n")
    (project / "Pulumi.broken.yaml").write_text(
        "config:\n  azureml-endpoints:network:\n    isolationMode: Disabled\n    privateEndpointSubnetId: x\n"
    )
    monkeypatch.setenv("AZUREML_ENDPOINTS_PROJECT", str(project))
    assert main(["--stack", "broken"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "azureml-endpoints:network." in captured.err and len(captured.err.strip().splitlines()) == 1
