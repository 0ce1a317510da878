"""Installs the ARM-like mocks: every program evaluation in the tests goes through tools.evaluate."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "policies"):  # the pack imports its rules as the engine runs it: from policies/
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tools.evaluate import Evaluation, evaluate, stack_config  # noqa: E402

from hypothesis import settings  # noqa: E402

# Property-based tests are reproducible and bounded: the same examples every run (derandomize), no example
# database, a small default budget (each test may lower or raise it).
settings.register_profile("repo", derandomize=True, database=None, max_examples=100, deadline=None, print_blob=True)
settings.load_profile("repo")

NAMESPACE = "azureml-endpoints"


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
