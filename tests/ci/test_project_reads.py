"""The product's tests never open the repository's own stacks or `ml/` (tests/support/project_reads.py): a team that
replaces them keeps the product's tests green. Proved here on test modules that do, run under the suite's conftest."""

import os
import subprocess
import sys

from azureml_endpoints.paths import REPO
from tests.support.project_reads import root_project_file

BAD = """
from azureml_endpoints.paths import REPO, project_dir


def test_reads_a_root_stack():
    (REPO / "Pulumi.dev.yaml").read_text()


def test_reads_root_ml():
    (REPO / "ml" / "sample-request.json").read_bytes()


def test_reads_the_fixture_project_and_the_product_file():
    (project_dir() / "Pulumi.dev.yaml").read_text()
    (project_dir() / "ml" / "sample-request.json").read_bytes()
    (REPO / "Pulumi.yaml").read_text()  # the product's project file, not a team's
"""
AT_IMPORT = """
from azureml_endpoints.paths import REPO

STACK = (REPO / "Pulumi.staging.yaml").read_text()


def test_nothing():
    pass
"""


def test_which_paths_are_the_repositorys_own_project():
    assert root_project_file(REPO / "Pulumi.dev.yaml") and root_project_file(REPO / "Pulumi.team-x.yml")
    assert root_project_file(REPO / "ml" / "model-1" / "model" / "sklearn_regression_model.pkl")
    assert not root_project_file(REPO / "Pulumi.yaml")
    assert not root_project_file(REPO / "tests" / "fixtures" / "project" / "Pulumi.dev.yaml")
    assert not root_project_file(REPO / "tests" / "fixtures" / "project" / "ml" / "sample-request.json")
    assert not root_project_file(REPO / "docs" / "ml.md")


def test_a_product_test_that_opens_them_fails_naming_the_file(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_bad.py").write_text(BAD)
    (tmp_path / "test_at_import.py").write_text(AT_IMPORT)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "--continue-on-collection-errors"]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"}  # tests.conftest as the suite imports it; whole lines
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "ERROR test_bad.py::test_reads_a_root_stack - Failed: opened the repository's own Pulumi.dev.yaml: a team replaces" in out
    assert "ERROR test_bad.py::test_reads_root_ml - Failed: opened the repository's own ml/sample-request.json" in out
    assert "test_at_import.py: opened the repository's own Pulumi.staging.yaml" in out
    # A test that opened one errs at teardown (its body passed); the module that opened one at import never runs.
    assert out.splitlines()[-1].startswith("3 passed, 3 errors")
