"""Every resource type a stack registers has one record: the mocks' answer, its create time and its preview line."""

import pytest

from azureml_endpoints.offline import resource_types
from azureml_endpoints.offline.arm_mocks import ArmError
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import shipped_stacks

STACKS = [(stack, REPO) for stack in shipped_stacks()] + [("example", REPO / "bootstrap")]


@pytest.fixture(scope="module", params=STACKS, ids=lambda s: s[0])
def registrations(request):
    stack, project = request.param
    return evaluate(stack, project_dir=project).registrations


def test_every_registered_type_has_a_record_a_time_and_a_line(registrations):
    for r in registrations:
        if not r.custom:
            continue
        record = resource_types.record(r.type)
        low, high = resource_types.create_seconds(r)
        assert 0 < low <= high or r.type == "pulumi-python:dynamic:Resource", r.type
        assert resource_types.preview_line(r), f"{r.type} {r.name}: the preview would print a blank line"
        assert record.answer is not None or not r.type.startswith(("azure-native:", "azuread:")), r.type


def test_a_type_without_a_record_is_refused_by_name_everywhere():
    with pytest.raises(resource_types.UnknownResourceType, match="azure-native:network:VirtualNetwork.*resource_types.py"):
        resource_types.record("azure-native:network:VirtualNetwork")


def test_the_mocks_refuse_an_unknown_azure_type_instead_of_echoing_it(dev_config):
    from pulumi.runtime.mocks import MockResourceArgs

    from azureml_endpoints.offline.arm_mocks import ArmMocks

    with pytest.raises(resource_types.UnknownResourceType):
        ArmMocks().new_resource(MockResourceArgs("azure-native:network:VirtualNetwork", "pe", {}, None, None, True))
    assert ArmError  # the mocks' own refusals (what ARM answers) stay ArmError
