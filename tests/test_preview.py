"""The README's first command: the offline preview of a stack."""

import json

from tools.preview import main


def test_dev_preview_prints_the_plan(capsys):
    assert main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "azure-native:machinelearningservices:OnlineEndpoint    mi-uai-dev-endpoint    [identity UserAssigned, auth Key]" in out
    assert "AcrPull -> registries/" in out
    assert "[Standard_DS3_v2 x 1, script score_managedidentity.py]" in out
    assert "[traffic blue 100%]" in out
    assert "onlineEndpointKeys: [secret]" in out and "pk-" not in out


def test_json_plan(capsys):
    assert main(["--stack", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    endpoint = next(s for s in document["steps"] if s["name"] == "mi-uai-prod-endpoint")
    assert endpoint["protect"] and endpoint["details"] == "identity UserAssigned, auth AADToken protected"
    assert "traffic blue 100%, green 0%; mirror green 10%" in [s["details"] for s in document["steps"]]


def test_unknown_stack_exits_1(capsys):
    assert main(["--stack", "nope"]) == 1
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err
