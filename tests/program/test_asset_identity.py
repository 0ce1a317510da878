"""Stable asset identity: resource names derive from what an asset is, so adding one renames nothing, and the
guard blocks a create whose Azure resource the same preview deletes."""

from __future__ import annotations

import copy
import json
import shutil

import yaml

from azureml_endpoints.cli import guard
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

NS = "azureml-endpoints"
CODE_VERSION = "azure-native:machinelearningservices:CodeVersion"


def test_adding_a_code_folder_with_an_existing_folder_name_renames_nothing(tmp_path):
    """The public samples name their folders onlinescoring too; a team's copy must not move the sample's."""
    project = tmp_path / "repository"
    shutil.copytree(project_dir(), project)
    before = {stack: {r.urn for r in evaluate(stack, project_dir=project).registrations} for stack in shipped_stacks(project)}

    team_code = project / "team" / "onlinescoring"
    team_code.mkdir(parents=True)
    (team_code / "score.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return []\n")
    for stack in shipped_stacks(project):
        path = project / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text())
        endpoints = document["config"].get(f"{NS}:onlineEndpoints") or []
        if endpoints:
            team = copy.deepcopy(endpoints[0]["deployments"][0])
            team.update(name="team", code="team/onlinescoring", scoringScript="score.py")
            endpoints[0]["deployments"].append(team)
            endpoints[0]["traffic"]["team"] = 0
            endpoints[0].get("mirrorTraffic", {}).pop("team", None)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    for stack, urns in before.items():
        after = evaluate(stack, project_dir=project)
        assert urns <= {r.urn for r in after.registrations}, stack  # every resource keeps its URN
        names = {r.name for r in after.of_type(CODE_VERSION)}
        assert {"assets-code-team-onlinescoring", "assets-code-ml-onlinescoring"} <= names, stack


def test_code_folders_are_named_by_their_path_and_keep_their_earlier_names_as_aliases(dev):
    code = dev.named("assets-code-ml-onlinescoring")
    assert code.aliases == (code.urn.rsplit("::", 1)[0] + "::assets-code-onlinescoring",)
    blob = dev.named("assets-code-ml-onlinescoring-score.py")
    assert blob.aliases == (blob.urn.rsplit("::", 1)[0] + "::assets-code-onlinescoring-score.py",)
    # Model and environment versions were always named by catalog name and version: no alias.
    assert dev.named("assets-model-sklearn-regression-1").aliases == ()


def _state(r) -> dict:
    return {"urn": r.urn, "id": r.id, "type": r.type, "custom": True, "inputs": r.inputs, "outputs": r.outputs}


def test_the_guard_blocks_a_create_whose_azure_resource_the_preview_deletes(dev, tmp_path, capsys):
    """A rename without an alias: the new URN is created while the old one, the same Azure code version, is deleted."""
    code = dev.named("assets-code-ml-onlinescoring")
    old_urn = code.aliases[0]
    renamed = [
        {"op": "create", "urn": code.urn, "newState": _state(code)},
        {"op": "delete", "urn": old_urn, "oldState": {**_state(code), "urn": old_urn}},
    ]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": renamed, "changeSummary": {"create": 1, "delete": 1}}))
    assert guard.main([str(path)]) == 2
    out = capsys.readouterr().out
    assert "`assets-code-ml-onlinescoring`: would be created as the Azure resource `assets-code-onlinescoring` is now" in out

    # A new version of the same folder (other content) is another Azure resource: no block.
    other = copy.deepcopy(_state(code))
    other["inputs"]["version"] = "0123456789abcdef"
    renamed[0]["newState"] = other
    path.write_text(json.dumps({"steps": renamed, "changeSummary": {"create": 1, "delete": 1}}))
    assert guard.main([str(path)]) == 0


def test_adopting_this_release_while_adding_a_same_named_folder_is_blocked_with_what_to_do(tmp_path, capsys):
    """An earlier release's `assets-code-onlinescoring` was whichever folder had the name alone; with two such folders the
    program cannot know which (it reads no state), so neither takes the alias and the guard says to `up` once first."""
    project = tmp_path / "repository"
    shutil.copytree(project_dir(), project)
    team_code = project / "team" / "onlinescoring"
    team_code.mkdir(parents=True)
    (team_code / "score.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return []\n")
    path = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    endpoint = document["config"][f"{NS}:onlineEndpoints"][0]
    endpoint["deployments"].append(
        {**endpoint["deployments"][0], "name": "team", "code": "team/onlinescoring", "scoringScript": "score.py"}
    )
    endpoint["traffic"]["team"] = 0
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    both = evaluate("dev", project_dir=project)
    code = both.named("assets-code-ml-onlinescoring")
    earlier = code.urn.rsplit("::", 1)[0] + "::assets-code-onlinescoring"  # the earlier release's name, in the stack's state
    named_onlinescoring = [r for r in both.of_type(CODE_VERSION) if r.inputs["name"] == "onlinescoring"]
    assert {r.urn for r in named_onlinescoring} == {code.urn, both.named("assets-code-team-onlinescoring").urn}
    assert earlier not in {r.urn for r in both.registrations} and all(r.aliases == () for r in named_onlinescoring)
    assert both.named("assets-code-ml-batchscoring").aliases != ()  # a name still unique keeps its alias

    steps = [
        {"op": "create", "urn": code.urn, "newState": _state(code)},
        {"op": "delete", "urn": earlier, "oldState": {**_state(code), "urn": earlier}},
    ]
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": steps, "changeSummary": {"create": 1, "delete": 1}}))
    assert guard.main([str(preview)]) == 2
    out = capsys.readouterr().out
    assert (
        "`assets-code-ml-onlinescoring`: would be created as the Azure resource `assets-code-onlinescoring` is now, which this "
        "preview deletes: a code folder an earlier release named by its folder name alone, in the same change that adds another "
        "folder of that name, so no alias applies. Run `pulumi up` once with this release before adding the folder"
    ) in out

    # After that `up` the stack's state has the path name, so adding the folder renames nothing (the alias is moot).
    alone = evaluate("dev")
    assert alone.named("assets-code-ml-onlinescoring").urn == code.urn
    assert alone.named("assets-code-ml-onlinescoring").aliases == (earlier,)
