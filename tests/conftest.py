"""Installs the ARM-like mocks: every program evaluation in the tests goes through azureml_endpoints.offline.evaluate."""

import pytest
from hypothesis import settings

from azureml_endpoints.offline.evaluate import Evaluation, evaluate
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import stack_config

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
