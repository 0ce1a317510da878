"""`azureml-endpoints check` over a project: a team's own models and stacks pass, a broken one fails naming the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.cli import check, model_lock
from azureml_endpoints.paths import using_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NS = "azureml-endpoints"


@pytest.fixture
def team_project(tmp_path) -> Path:
    """The fixture project, copied, with three teams' models, code folders, environments and stack added,
    their versions locked as a team would (`model-lock --add`)."""
    project = tmp_path / "repository"
    shutil.copytree(FIXTURES / "project", project)  # Pulumi.yaml (a link) copied as the product's file
    for team in ("fraud", "diabetes", "heart"):
        shutil.copytree(FIXTURES / "teams" / team, project / "teams" / team)
    shutil.copy(FIXTURES / "teams" / "Pulumi.team.yaml", project / "Pulumi.team.yaml")
    with using_project(project):
        assert model_lock.main(["--add"]) == 0
    return project


def edit_stack(project: Path, change) -> None:
    path = project / "Pulumi.team.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_teams_models_and_stacks_pass_beside_the_shipped_ones(team_project, capsys):
    assert check.main(["--project", str(team_project)]) == 0
    out = capsys.readouterr().out
    stacks = len(list(team_project.glob("Pulumi.*.yaml")))  # every stack file; Pulumi.yaml does not match
    assert "stack team: ok" in out and f"{stacks} of {stacks} stacks pass" in out
    assert "onlineEndpoints team-fraud/green is a no-code MLflow deployment" in out
    assert "batchEndpoints team-heart/simple is a no-code MLflow deployment" in out
    assert "scoring code: 3 scoring scripts define init() and run()" in out  # fraud, diabetes src/score.py, heart driver
    assert "model lock: 3 model versions match the lock (diabetes-mlflow:2, fraud-regression:1, heart-classifier:1)" in out


def test_a_scoring_script_without_run_fails_naming_the_models_entry_that_names_it(team_project, capsys):
    script = team_project / "teams" / "fraud" / "onlinescoring" / "score.py"
    script.write_text(script.read_text().replace("def run(", "def predict("))
    assert check.main(["--project", str(team_project), "--stack", "team"]) == 1
    out = capsys.readouterr().out
    assert "stack team: FAILED" in out
    assert f"FAIL  scoring code: {NS}:models[0].scoringScript (teams/fraud/onlinescoring/score.py) defines no run()" in out


def test_a_script_that_does_not_parse_fails_naming_the_deployment_key(team_project, capsys):
    (team_project / "teams" / "heart" / "code" / "batch_driver.py").write_text("def init(:\n")
    assert check.main(["--project", str(team_project), "--stack", "team"]) == 1
    assert (
        f"{NS}:batchEndpoints[0].deployments[1].scoringScript (teams/heart/code/batch_driver.py) does not parse" in capsys.readouterr().out
    )


def test_a_custom_model_without_code_fails_with_the_key_and_both_ways_out(team_project, capsys):
    def drop_code(config):
        for key in ("code", "scoringScript"):
            config[f"{NS}:models"][0].pop(key)

    edit_stack(team_project, drop_code)
    assert check.main(["--project", str(team_project), "--stack", "team"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  config: {NS}:onlineEndpoints[0].deployments[0].code: fraud-regression:1 (repository) is a custom_model" in out
    assert "add code and scoringScript to the deployment, or to models[0]" in out


def test_a_model_version_missing_from_the_lock_fails_the_stack(team_project, capsys):
    edit_stack(team_project, lambda config: config[f"{NS}:models"][0].update(version=2))
    assert check.main(["--project", str(team_project), "--stack", "team"]) == 1
    assert f"{NS}:models[0].version: fraud-regression:2 is not in ml/models.lock.json" in capsys.readouterr().out


def test_a_mandatory_policy_violation_fails_the_stack(team_project, capsys):
    (team_project / "policies" / "config" / "team.json").write_text('{"endpoint-entra-auth": "mandatory"}')
    assert check.main(["--project", str(team_project), "--stack", "team"]) == 1
    assert "FAIL  policies: endpoint-entra-auth on team-fraud-endpoint" in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert check.main(["--project", str(tmp_path)]) == 2
    assert "is not a Pulumi project" in capsys.readouterr().err
    assert check.main(["--project", str(FIXTURES / "project"), "--stack", "nope"]) == 2
    assert "no stack nope" in capsys.readouterr().err
    assert check.main(["--bogus"]) == 2
