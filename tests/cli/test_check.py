"""`azureml-endpoints check` over a project: several teams' real models and stacks pass, a broken one fails naming the key.

The teams' models are Microsoft's own public samples (tests/fixtures/az-ml/, byte for byte from Azure/azureml-examples),
added to a copy of the fixture project as a team adds them (tests/support/teams.py). `--start` on them:
tests/runtime/test_check_start.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.cli import check
from tests.support import teams

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NS = "azureml-endpoints"


@pytest.fixture
def team_project(tmp_path) -> Path:
    """The fixture project, copied, with the teams' models, code folders, environments, data and stacks added."""
    return teams.team_project(tmp_path)


def reports(out: str) -> dict[str, str]:
    """Each stack's report, by stack name."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^stack (\S+): .*?(?=^stack |\n\n|\Z)", out, re.MULTILINE | re.DOTALL)}


def edit_stack(project: Path, stack: str, change) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def failed(project: Path, stack: str, capsys) -> str:
    assert check.main(["--project", str(project), "--stack", stack]) == 1
    out = capsys.readouterr().out
    assert f"stack {stack}: FAILED" in out and "0 of 1 stacks pass" in out
    return out


def test_the_teams_stacks_pass_beside_the_shipped_ones_with_a_report_each(team_project, capsys):
    assert check.main(["--project", str(team_project)]) == 0
    out = capsys.readouterr().out
    stacks = len(list(team_project.glob("Pulumi.*.yaml")))  # every stack file; Pulumi.yaml does not match
    assert stacks == 7 + len(teams.TEAM_STACKS) and f"{stacks} of {stacks} stacks pass" in out
    found = reports(out)
    assert len(found) == stacks and all(report.startswith(f"stack {name}: ok\n") for name, report in found.items())
    assert found["team-fraud"].splitlines()[1:] == [
        "  ok    config: validates",
        "  ok    references: 1 deployments resolve their model, code and environment",
        "  ok    model lock: 1 model versions match the lock (fraud-regression:1)",
        "  ok    program: evaluates (21 resources)",
        "  ok    policies: no mandatory violation (2 advisory)",
        "  ok    scoring code: 1 scoring scripts define init() and run()",  # onlinescoring/score.py
    ]
    diabetes = found["team-diabetes"]
    assert "  ok    model lock: 1 model versions match the lock (sklearn-diabetes:2)" in diabetes
    assert "  ok    scoring code: onlineEndpoints team-diabetes/blue is a no-code MLflow deployment" in diabetes
    assert "  ok    scoring code: 1 scoring scripts define init() and run()" in diabetes  # src/score.py
    heart = found["team-heart"]
    assert "  ok    model lock: 1 model versions match the lock (heart-classifier-mlflow:1)" in heart
    assert "  ok    scoring code: batchEndpoints heart-classifier-batch/classifier-xgboost-mlflow is a no-code MLflow deployment" in heart
    assert "  ok    scoring code: 1 scoring scripts define init() and run()" in heart  # deployment-custom/code/batch_driver.py


def test_a_scoring_script_without_run_fails_naming_the_models_entry_that_names_it(team_project, capsys):
    script = team_project / "fraud" / "onlinescoring" / "score.py"
    script.write_text(script.read_text().replace("def run(", "def predict("))
    out = failed(team_project, "team-fraud", capsys)
    assert f"FAIL  scoring code: {NS}:models[0].scoringScript (fraud/onlinescoring/score.py) defines no run()" in out


def test_a_scoring_script_without_init_fails_naming_the_deployment_that_names_it(team_project, capsys):
    script = team_project / "diabetes" / "src" / "score.py"
    script.write_text(script.read_text().replace("def init(", "def setup("))
    out = failed(team_project, "team-diabetes", capsys)
    assert f"FAIL  scoring code: {NS}:onlineEndpoints[0].deployments[1].scoringScript (diabetes/src/score.py) defines no init()" in out


def test_a_batch_driver_that_does_not_parse_fails_naming_the_deployment_key(team_project, capsys):
    (team_project / "heart" / "deployment-custom" / "code" / "batch_driver.py").write_text("def init(:\n")
    out = failed(team_project, "team-heart", capsys)
    assert f"{NS}:batchEndpoints[0].deployments[1].scoringScript (heart/deployment-custom/code/batch_driver.py) does not parse" in out


def test_a_custom_model_without_code_fails_with_the_key_and_both_ways_out(team_project, capsys):
    def drop_code(config):
        for key in ("code", "scoringScript"):
            config[f"{NS}:models"][0].pop(key)

    edit_stack(team_project, "team-fraud", drop_code)
    out = failed(team_project, "team-fraud", capsys)
    assert f"FAIL  config: {NS}:onlineEndpoints[0].deployments[0].code: fraud-regression:1 (repository) is a custom_model" in out
    assert "add code and scoringScript to the deployment, or to models[0]" in out


def test_a_model_version_missing_from_the_lock_fails_the_stack(team_project, capsys):
    edit_stack(team_project, "team-diabetes", lambda config: config[f"{NS}:models"][0].update(version=3))
    out = failed(team_project, "team-diabetes", capsys)
    assert f"{NS}:models[0].version: sklearn-diabetes:3 is not in ml/models.lock.json" in out


def test_model_files_changed_under_a_locked_version_fail_the_stack(team_project, capsys):
    model = team_project / "heart" / "deployment-simple" / "model" / "model.pkl"
    model.write_bytes(model.read_bytes() + b"\0")
    out = failed(team_project, "team-heart", capsys)
    assert (
        f"FAIL  config: {NS}:models[0].version: the content under heart/deployment-simple/model changed since "
        "heart-classifier-mlflow:1 was locked" in out
    )


def test_a_batch_input_folder_that_is_not_there_fails_naming_the_key(team_project, capsys):
    shutil.rmtree(team_project / "heart" / "data")
    out = failed(team_project, "team-heart", capsys)
    assert f"FAIL  config: {NS}:batchEndpoints[0].input.folder: 'heart/data' does not exist in the project (expected a folder)" in out


def test_a_mandatory_policy_violation_fails_the_stack(team_project, capsys):
    (team_project / "policies" / "config" / "team-fraud.json").write_text('{"endpoint-entra-auth": "mandatory"}')
    out = failed(team_project, "team-fraud", capsys)
    assert "FAIL  policies: endpoint-entra-auth on team-fraud-endpoint" in out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert check.main(["--project", str(tmp_path)]) == 2
    assert "is not a Pulumi project" in capsys.readouterr().err
    assert check.main(["--project", str(FIXTURES / "project"), "--stack", "nope"]) == 2
    assert "no stack nope" in capsys.readouterr().err
    assert check.main(["--project", str(FIXTURES / "project"), "--request", str(tmp_path)]) == 2
    assert "goes with --start" in capsys.readouterr().err
    assert check.main(["--project", str(FIXTURES / "project"), "--start", "--request", str(tmp_path / "none.json")]) == 2
    assert "not a file" in capsys.readouterr().err
    assert check.main(["--bogus"]) == 2
