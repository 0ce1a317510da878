"""Installs the ARM-like mocks: every program evaluation in the tests goes through azureml_endpoints.offline.evaluate.

The tests run on the product's own fixture project (tests/fixtures/project/), never on the root stacks and
`ml/` a team replaces: the whole session's `project_dir()` is the fixture's (azureml_endpoints/paths.py).
"""

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from azureml_endpoints.offline.evaluate import Evaluation, evaluate
from azureml_endpoints.offline.policy_client import PolicyPackServer
from azureml_endpoints.paths import PROJECT_ENV
from azureml_endpoints.pulumi_io.stack_files import stack_config
from tests.support import project_reads

FIXTURE_PROJECT = Path(__file__).resolve().parent / "fixtures" / "project"
# Set at import, before any test module computes a path from it; subprocesses the tests start inherit it.
os.environ[PROJECT_ENV] = str(FIXTURE_PROJECT)

# Property-based tests are reproducible and bounded: the same examples every run (derandomize), no example
# database, a small default budget (each test may lower or raise it).
settings.register_profile("repo", derandomize=True, database=None, max_examples=100, deadline=None, print_blob=True)
settings.load_profile("repo")


def pytest_collection_modifyitems(items):
    """Everything under tests/runtime/ starts Azure ML's runtime here: `-m "not runtime"` leaves it out."""
    for item in items:
        if "runtime" in item.path.relative_to(item.config.rootpath).parts[:2]:
            item.add_marker(pytest.mark.runtime)


def _judges_the_repository(node) -> bool:
    """tests/ci/ reads the repository's own stacks on purpose (check, the stack schema); no other test may."""
    return "ci" in node.path.relative_to(node.config.rootpath).parts[:2]


def _opened_message(opened: list[str]) -> str:
    return (
        f"opened the repository's own {', '.join(sorted(set(opened)))}: a team replaces the root stacks and ml/; "
        "read the fixture project's (project_dir(), tests/fixtures/project/) instead"
    )


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """A product test module that opens the root stacks or root ml/ at import fails to collect (tests/support/project_reads.py)."""
    guarded = isinstance(collector, pytest.Module) and not _judges_the_repository(collector)
    opened = project_reads.start() if guarded else None
    try:
        report = yield
    finally:
        if guarded:
            project_reads.stop()
    if opened:
        report.outcome, report.longrepr = "failed", f"{collector.nodeid}: {_opened_message(opened)}"
    return report


@pytest.fixture(autouse=True)
def _reads_only_the_fixture_project(request):
    """A product test that opens the root stacks or root ml/ fails at teardown (tests/support/project_reads.py)."""
    if _judges_the_repository(request.node):
        yield
        return
    opened = project_reads.start()
    try:
        yield
    finally:
        project_reads.stop()
    if opened:
        pytest.fail(_opened_message(opened), pytrace=False)


@pytest.fixture(scope="session")
def dev() -> Evaluation:
    return evaluate("dev")


@pytest.fixture(scope="session")
def sai() -> Evaluation:
    return evaluate("sai-example")


@pytest.fixture
def dev_config() -> dict:
    """A mutable copy of the dev stack's config for tests that break one rule."""
    import copy

    return copy.deepcopy(stack_config("dev"))


@pytest.fixture(scope="module")
def pack():
    """The policy pack as the engine runs it: its own process, over gRPC; one per test module, so a module's
    `configure` never leaks into another's."""
    with PolicyPackServer() as server:
        yield server


@pytest.fixture
def az_ml_project(tmp_path, monkeypatch) -> Path:
    """A copy of the fixture project with azureml-examples' samples in it under az-ml/ (tests/fixtures/az-ml/), as the
    project of this test (and of the commands it starts): what a team's repository looks like after copying them in."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE_PROJECT, project)
    shutil.copytree(FIXTURE_PROJECT.parent / "az-ml", project / "az-ml")
    monkeypatch.setenv(PROJECT_ENV, str(project))
    return project
