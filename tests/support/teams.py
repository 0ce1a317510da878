"""Several teams' real models added to a project, as a team adds them: Microsoft's public samples (tests/fixtures/az-ml/,
byte for byte from Azure/azureml-examples) copied to the folders the teams' stacks (tests/fixtures/teams/) name, the
stacks beside the project's, the model versions locked with `model-lock --add`."""

from __future__ import annotations

import shutil
from pathlib import Path

from azureml_endpoints.cli import model_lock
from azureml_endpoints.paths import using_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TEAMS = FIXTURES / "teams"
# Where each team keeps a sample in its repository <- the sample in tests/fixtures/az-ml/ (cli/endpoints/<path>).
TEAM_FILES = {
    "fraud": "online/model-1",
    "diabetes": "online/ncd/sklearn-diabetes",
    "diabetes/sample-request.json": "online/ncd/sample-request-sklearn.json",
    "heart": "batch/deploy-models/heart-classifier-mlflow",
}
TEAM_STACKS = sorted(p.name for p in TEAMS.glob("Pulumi.*.yaml"))


def add_teams(project: Path) -> Path:
    """`project` with the teams' files and stacks added and their model versions locked."""
    for destination, sample in TEAM_FILES.items():
        source = FIXTURES / "az-ml" / sample
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / destination)
    for stack in TEAM_STACKS:
        shutil.copy(TEAMS / stack, project / stack)
    with using_project(project):
        assert model_lock.main(["--add"]) == 0
    return project


def team_project(directory: Path) -> Path:
    """A copy of the fixture project (its Pulumi.yaml, a link, copied as the product's file) with the teams added."""
    project = directory / "repository"
    shutil.copytree(FIXTURES / "project", project)
    return add_teams(project)
