"""`azureml-endpoints check --start` on the teams' online deployments (tests/support/teams.py): Microsoft's own score.py
files and an MLflow model with no code, each started under the real inference server and scored with the team's request.

Microsoft's `ncd/sklearn-diabetes/src/score.py` imports `mlflow.pyfunc.scoring_server.infer_and_parse_json_input`, which
the MLflow installed today (3.18) no longer has, and its conda file leaves `mlflow` unpinned: built today, as Azure builds it, the script cannot
start. `--start` is what finds that before a 15-minute deployment does; the offline check cannot.
"""

from azureml_endpoints.cli import check
from tests.support.teams import team_project


def start(project, stack: str, request: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = check.main(["--project", str(project), "--stack", stack, "--start", "--request", str(project / request)])
    return code, capsys.readouterr().out


def test_check_start_scores_the_teams_online_deployments_with_their_requests(tmp_path, python312_on_path, capsys):
    project = team_project(tmp_path)
    code, out = start(project, "team-fraud", "fraud/sample-request.json", capsys)  # model-1's own sample request
    assert code == 0, out
    assert "  ok    start: team-fraud/blue under the inference server answered 200" in out  # onlinescoring/score.py

    code, out = start(project, "team-diabetes", "diabetes/sample-request.json", capsys)  # the ncd sample's (input_data)
    assert code == 1, out
    assert "  ok    start: team-diabetes/blue under the inference server answered 200" in out  # no code: MLflow's scoring
    assert (
        "  FAIL  start: team-diabetes/green under the inference server: exit 1: ImportError: cannot import name "
        "'infer_and_parse_json_input' from 'mlflow.pyfunc.scoring_server'"
    ) in out


def test_a_request_a_deployment_refuses_fails_its_start(tmp_path, python312_on_path, capsys):
    project = team_project(tmp_path)
    code, out = start(project, "team-diabetes", "fraud/sample-request.json", capsys)  # model-1's body: no input_data
    assert code == 1
    assert "  FAIL  start: team-diabetes/blue under the inference server: exit 1:" in out
