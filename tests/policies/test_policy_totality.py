"""Every policy is total: malformed Analyze/AnalyzeStack requests through the pack's own gRPC server, and
property-based inputs straight into every resource validator, never raise; an unknown is "cannot tell yet",
an odd shape is a violation that says what is odd."""

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    unknown_checking_proxy,
)

from azureml_endpoints.offline.arm_mocks import Registration
from azureml_endpoints.offline.policy_client import load_policy_config
from guardrails import ALL_POLICIES, common, network

SUB = "/subscriptions/00000000-0000-4000-8000-000000000001"
RG = f"{SUB}/resourceGroups/rg-ml"
UAI_URN = "urn:pulumi:dev::azureml-endpoints::azure-native:managedidentity:UserAssignedIdentity::id-a"
UNKNOWNS = [UNKNOWN_STRING_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_BOOLEAN_VALUE]
TYPES = sorted(
    {
        common.ONLINE_ENDPOINT,
        common.BATCH_ENDPOINT,
        common.ONLINE_DEPLOYMENT,
        common.ROLE_ASSIGNMENT,
        common.ROLE_DEFINITION,
        common.STORAGE_ACCOUNT,
        common.BLOB_CONTAINER,
        common.BLOB,
        common.REGISTRY,
        common.USER_ASSIGNED_IDENTITY,
        common.WORKSPACE,
        common.KEY_VAULT,
        network.OUTBOUND_RULE,
        network.PRIVATE_ENDPOINT,
        network.PRIVATE_DNS_ZONE_GROUP,
        "azure-native:machinelearningservices/v20240101preview:OnlineEndpoint",
    }
)


def registration(type_, name, inputs, property_dependencies=None) -> Registration:
    return Registration(
        urn=f"urn:pulumi:dev::azureml-endpoints::{type_}::{name}",
        type=type_,
        name=name,
        parent="",
        custom=True,
        inputs=inputs,
        outputs={},
        id="",
        dependencies=[],
        property_dependencies=property_dependencies or {},
        protect=False,
        replace_on_changes=[],
        ignore_changes=[],
        delete_before_replace=False,
        retain_on_delete=False,
        custom_timeouts={},
    )


# The 39 malformed requests of the hostile-input run, by kind: unknowns where rules read values, lists
# where objects belong, objects where strings belong, numbers for ids.
MALFORMED = [
    (common.ROLE_DEFINITION, {"permissions": [{"actions": [UNKNOWN_STRING_VALUE]}]}),
    (common.ROLE_DEFINITION, {"permissions": [UNKNOWN_OBJECT_VALUE]}),
    (common.ROLE_DEFINITION, {"permissions": UNKNOWN_ARRAY_VALUE}),
    (common.ROLE_DEFINITION, {"permissions": {"actions": ["*"]}}),
    (common.ROLE_DEFINITION, {"permissions": [["*"]]}),
    (common.ROLE_DEFINITION, {"permissions": [{"actions": "Microsoft.Storage/*"}]}),
    (common.ROLE_DEFINITION, {"permissions": 5}),
    (common.ROLE_DEFINITION, {"permissions": [{"actions": UNKNOWN_ARRAY_VALUE, "dataActions": ["*/read"]}]}),
    (common.ROLE_ASSIGNMENT, {"roleDefinitionId": UNKNOWN_STRING_VALUE, "scope": RG, "principalType": "ServicePrincipal"}),
    (common.ROLE_ASSIGNMENT, {"roleDefinitionId": 5, "scope": RG}),
    (common.ROLE_ASSIGNMENT, {"roleDefinitionId": ["a"], "scope": [RG]}),
    (common.ROLE_ASSIGNMENT, {"roleDefinitionId": {"id": "x"}, "scope": {"id": RG}}),
    (
        common.ROLE_ASSIGNMENT,
        {"roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/x", "scope": UNKNOWN_STRING_VALUE},
    ),
    (common.ROLE_ASSIGNMENT, {}),
    (common.ONLINE_ENDPOINT, {"identity": [1], "properties": []}),
    (common.ONLINE_ENDPOINT, {"identity": "SystemAssigned", "properties": "AADToken"}),
    (common.ONLINE_ENDPOINT, {"identity": {"type": ["UserAssigned"]}, "properties": {"authMode": 5}}),
    (common.ONLINE_ENDPOINT, {"identity": {"type": "UserAssigned", "userAssignedIdentities": {"a": {}}}}),
    (
        common.ONLINE_ENDPOINT,
        {
            "identity": {"type": "UserAssigned", "userAssignedIdentities": [{"id": "a"}]},
            "resourceGroupName": "rg-ml",
            "workspaceName": "mlw",
            "endpointName": "ep",
        },
    ),
    (common.ONLINE_ENDPOINT, {"identity": UNKNOWN_OBJECT_VALUE, "properties": UNKNOWN_OBJECT_VALUE}),
    (common.ONLINE_ENDPOINT, {"resourceGroupName": [1], "workspaceName": {"a": 1}, "endpointName": 3}),
    (
        common.ONLINE_ENDPOINT,
        {
            "identity": {"type": "UserAssigned", "userAssignedIdentities": UNKNOWN_ARRAY_VALUE},
            "resourceGroupName": "rg-ml",
            "workspaceName": "mlw",
            "endpointName": "ep",
        },
    ),
    (common.BATCH_ENDPOINT, {"identity": 5}),
    (common.BATCH_ENDPOINT, {"identity": {"type": {"nested": True}}}),
    (common.ONLINE_DEPLOYMENT, {"sku": [1]}),
    (common.ONLINE_DEPLOYMENT, {"sku": {"capacity": "three"}}),
    (common.ONLINE_DEPLOYMENT, {"sku": {"capacity": UNKNOWN_NUMBER_VALUE}}),
    (common.ONLINE_DEPLOYMENT, {"sku": "Default"}),
    (common.ONLINE_DEPLOYMENT, {"sku": {"capacity": True}}),
    (common.STORAGE_ACCOUNT, {"minimumTlsVersion": [1], "allowBlobPublicAccess": "no", "accountName": 5}),
    (common.STORAGE_ACCOUNT, {"minimumTlsVersion": UNKNOWN_STRING_VALUE, "allowSharedKeyAccess": UNKNOWN_BOOLEAN_VALUE}),
    (common.STORAGE_ACCOUNT, {"enableHttpsTrafficOnly": {"x": 1}, "allowCrossTenantReplication": [True]}),
    (common.BLOB_CONTAINER, {"publicAccess": {"x": 1}}),
    (common.BLOB_CONTAINER, {"publicAccess": UNKNOWN_STRING_VALUE}),
    (common.REGISTRY, {"adminUserEnabled": "true", "anonymousPullEnabled": [True]}),
    (common.BLOB, {"accountName": [1]}),
    (common.BLOB, {"accountName": UNKNOWN_STRING_VALUE}),
    (common.USER_ASSIGNED_IDENTITY, {"resourceName": {"x": 1}}),
    ("azure-native:machinelearningservices/v20240101preview:OnlineEndpoint", {"identity": None}),
]


@pytest.fixture(scope="module", autouse=True)
def _prod_config(pack):
    """The pack as prod configures it: every rule this module calls is on, most of them mandatory."""
    pack.configure(load_policy_config("prod"))


def test_every_policy_is_total():
    for policy in ALL_POLICIES:
        attribute = (
            "_ResourceValidationPolicy__validate" if isinstance(policy, ResourceValidationPolicy) else "_StackValidationPolicy__validate"
        )
        assert getattr(getattr(policy, attribute), "total", False), f"{policy.name}: wrap its validator in guardrails.common.total"


def test_malformed_analyze_requests_never_raise_in_the_pack(pack):
    assert len(MALFORMED) == 39
    for index, (type_, inputs) in enumerate(MALFORMED):
        try:
            violations = pack.analyze(registration(type_, f"r{index}", inputs))
        except grpc.RpcError as error:  # what the engine sees when a policy raises: the preview fails
            pytest.fail(f"request {index} ({type_}) raised in the pack: {error.details()}")
        assert all(isinstance(v.message, str) and v.message for v in violations)


def test_odd_shapes_are_violations_that_say_what_is_odd(pack):
    found = pack.analyze(registration(common.ROLE_DEFINITION, "odd", {"permissions": [["*"]]}))
    assert any("permissions[0]: expected lists of exact actions" in v.message for v in found)
    found = pack.analyze(registration(common.ONLINE_ENDPOINT, "odd", {"identity": [1], "properties": []}))
    assert any("unexpected shape (properties is a list, not an object)" in v.message for v in found)
    found = pack.analyze(registration(common.ONLINE_DEPLOYMENT, "odd", {"sku": {"capacity": "three"}}))
    assert any("sku.capacity is not a number" in v.message for v in found)


def test_unknowns_are_cannot_tell_yet(pack):
    for type_, inputs in [
        (
            common.ROLE_ASSIGNMENT,
            {"roleDefinitionId": UNKNOWN_STRING_VALUE, "scope": UNKNOWN_STRING_VALUE, "principalType": "ServicePrincipal"},
        ),
        (common.ROLE_DEFINITION, {"permissions": [{"actions": [UNKNOWN_STRING_VALUE]}]}),
        (common.ONLINE_DEPLOYMENT, {"sku": {"capacity": UNKNOWN_NUMBER_VALUE}}),
    ]:
        assert pack.analyze(registration(type_, "u", inputs)) == [], type_


def test_malformed_analyze_stack_requests_never_raise(pack):
    endpoint_urn = registration(common.ONLINE_ENDPOINT, "ep", {}).urn
    resources = [registration(t, f"r{i}", inputs) for i, (t, inputs) in enumerate(MALFORMED)]
    resources += [
        registration(common.USER_ASSIGNED_IDENTITY, "id-a", {"resourceName": "id-a"}),
        registration(
            common.ONLINE_ENDPOINT,
            "ep",
            {"identity": {"type": "UserAssigned", "userAssignedIdentities": [UNKNOWN_STRING_VALUE]}},
            {"identity": [UAI_URN]},
        ),
        registration(
            common.ROLE_ASSIGNMENT,
            "ra-unknown",
            {"roleDefinitionId": UNKNOWN_STRING_VALUE, "scope": UNKNOWN_STRING_VALUE, "principalId": UNKNOWN_STRING_VALUE},
            {"principalId": [UAI_URN]},
        ),
        registration(common.ROLE_ASSIGNMENT, "ra-odd", {"roleDefinitionId": [1], "scope": {"a": 1}}, {"principalId": [UAI_URN]}),
        registration(common.BLOB, "blob", {"accountName": {"x": 1}}, {"accountName": [endpoint_urn]}),
        registration(common.WORKSPACE, "ws-odd", {"resourceGroupName": "rg", "workspaceName": "w", "managedNetwork": [1]}),
        registration(common.WORKSPACE, "ws-unknown", {"managedNetwork": {"isolationMode": UNKNOWN_STRING_VALUE}}),
        registration(
            network.OUTBOUND_RULE,
            "rule-odd",
            {"resourceGroupName": "rg", "workspaceName": "w", "properties": {"type": "FQDN", "destination": 5}},
        ),
        registration(network.PRIVATE_DNS_ZONE_GROUP, "zones-odd", {"privateDnsZoneConfigs": {"privateDnsZoneId": "x"}}),
        registration(network.PRIVATE_DNS_ZONE, "zone-odd", {"privateZoneName": ["privatelink.api.azureml.ms"]}),
    ]
    try:
        violations = pack.analyze_stack(resources)
    except grpc.RpcError as error:
        pytest.fail(f"AnalyzeStack raised in the pack: {error.details()}")
    # An unknown role (an assignment still to be created) is "cannot tell yet", not "lacks AcrPull".
    assert not any(v.policy == "uai-endpoint-workspace-roles" and "lacks" in v.message and v.urn == endpoint_urn for v in violations)


# --- property-based: every resource validator, directly -------------------------------------------------------------


def _json_values():
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(UNKNOWNS),
        st.sampled_from(["*", "Microsoft.Storage/*", RG, SUB, "AADToken", "UserAssigned", "SystemAssigned", "TLS1_0"]),
    )
    keys = st.sampled_from(
        [
            "identity",
            "type",
            "userAssignedIdentities",
            "properties",
            "authMode",
            "sku",
            "capacity",
            "permissions",
            "actions",
            "dataActions",
            "roleDefinitionId",
            "scope",
            "principalType",
            "minimumTlsVersion",
            "publicAccess",
            "accountName",
            "resourceGroupName",
            "endpointName",
            "x",
        ]
    )
    return st.recursive(
        scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)), max_leaves=12
    )


RESOURCE_POLICIES = [p for p in ALL_POLICIES if isinstance(p, ResourceValidationPolicy)]
CONFIGS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "endpoints": st.one_of(st.dictionaries(st.just("rg-ml/mlw/ep"), _json_values(), max_size=1), _json_values()),
            "minInstances": _json_values(),
            "additionalRoleDefinitionIds": _json_values(),
            "resourceGroupScopeRoleDefinitionIds": _json_values(),
            "required": _json_values(),
            "workspaces": st.one_of(st.dictionaries(st.just("rg-ml/mlw"), _json_values(), max_size=1), _json_values()),
        },
    ),
)


def _props():
    """Resource inputs shaped like the rules expect, each part possibly replaced by any JSON value or an unknown."""
    anything = _json_values()
    keys = (
        "roleDefinitionId",
        "scope",
        "principalType",
        "minimumTlsVersion",
        "publicAccess",
        "accountName",
        "resourceGroupName",
        "workspaceName",
        "endpointName",
        "adminUserEnabled",
        "allowBlobPublicAccess",
        "publicNetworkAccess",
        "privateZoneName",
    )
    shaped = {
        "identity": st.one_of(anything, st.fixed_dictionaries({"type": anything}, optional={"userAssignedIdentities": anything})),
        "properties": st.one_of(
            anything,
            st.fixed_dictionaries(
                {}, optional={"authMode": anything, "publicNetworkAccess": anything, "type": anything, "destination": anything}
            ),
        ),
        "sku": st.one_of(anything, st.fixed_dictionaries({}, optional={"capacity": anything, "name": anything})),
        "managedNetwork": st.one_of(anything, st.fixed_dictionaries({"isolationMode": anything})),
        "subnet": st.one_of(anything, st.fixed_dictionaries({"id": anything})),
        "privateDnsZoneConfigs": st.one_of(anything, st.lists(st.fixed_dictionaries({"privateDnsZoneId": anything}), max_size=2)),
        "permissions": st.one_of(
            anything,
            st.lists(st.one_of(anything, st.fixed_dictionaries({}, optional={"actions": anything, "dataActions": anything})), max_size=3),
        ),
        **{k: anything for k in keys},
    }
    return st.fixed_dictionaries({}, optional=shaped)


@settings(max_examples=400)
@given(props=_props(), config=CONFIGS, protect=st.booleans())
def test_resource_validators_never_raise(props, config, protect):
    options = PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    for type_ in TYPES:
        for policy in RESOURCE_POLICIES:
            args = ResourceValidationArgs(type_, unknown_checking_proxy(props), "urn:x", "x", options, None, config)
            messages = []
            policy.validate(args, lambda message, urn=None, messages=messages: messages.append(message))
            assert all(isinstance(m, str) and m for m in messages)
            assert not [m for m in messages if "Proxy object at" in m or "proxy." in m], messages  # values, never proxies
