"""CI judges the repository's own stacks with `azureml-endpoints check`: a team's broken stack fails here,
naming its key, and not in an unrelated product test (those run on tests/fixtures/project/)."""

import subprocess
import sys

from azureml_endpoints.paths import REPO


def test_every_stack_of_the_repository_passes_check():
    result = subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.main", "check", "--project", str(REPO)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " stacks pass" in result.stdout and "FAILED" not in result.stdout
