"""`azureml-endpoints check --start` on the teams' online deployments (tests/support/teams.py): Microsoft's own score.py
files, and an MLflow model with no code, each started and scored under the real inference server, with the team's
request."""

from azureml_endpoints.cli import check
from tests.support.teams import team_project


def test_check_start_scores_each_teams_online_deployments_with_its_request(tmp_path, python312_on_path, capsys):
    project = team_project(tmp_path)
    capsys.readouterr()
    # model-1's own sample request; the ncd sample's for sklearn-diabetes (input_data, split), as each team keeps it.
    fraud = check.main(
        ["--project", str(project), "--stack", "team-fraud", "--start", "--request", str(project / "fraud/sample-request.json")]
    )
    out = capsys.readouterr().out
    assert fraud == 0, out
    assert "  ok    start: team-fraud/blue under the inference server answered 200" in out  # onlinescoring/score.py
    diabetes = ["--stack", "team-diabetes", "--start", "--request", str(project / "diabetes/sample-request.json")]
    assert check.main(["--project", str(project), *diabetes]) == 0
    out = capsys.readouterr().out
    assert "  ok    start: team-diabetes/blue under the inference server answered 200" in out  # no code: the MLflow scoring
    assert "  ok    start: team-diabetes/green under the inference server answered 200" in out  # src/score.py
    assert out.endswith("\n1 of 1 stacks pass\n")


def test_a_request_a_deployment_refuses_fails_its_start_with_the_servers_answer(tmp_path, python312_on_path, capsys):
    project = team_project(tmp_path)
    capsys.readouterr()
    # model-1's body to the MLflow deployments: no input_data.
    request = str(project / "fraud/sample-request.json")
    assert check.main(["--project", str(project), "--stack", "team-diabetes", "--start", "--request", request]) == 1
    out = capsys.readouterr().out
    assert "  FAIL  start: team-diabetes/blue under the inference server: exit 1:" in out
    assert "  FAIL  start: team-diabetes/green under the inference server: exit 1:" in out
