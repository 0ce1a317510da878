"""What the rules share: resource types, role definition ids, reading ARM ids and possibly unknown values."""

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyConfigSchema
from pulumi_policy.proxy import UnknownValueError, _DictProxy, _ListProxy

ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
BATCH_ENDPOINT = "azure-native:machinelearningservices:BatchEndpoint"
ENDPOINTS = (ONLINE_ENDPOINT, BATCH_ENDPOINT)
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
AUTOSCALE_SETTING = "azure-native:monitor:AutoscaleSetting"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
BLOB = "azure-native:storage:Blob"
REGISTRY = "azure-native:containerregistry:Registry"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
KEY_VAULT = "azure-native:keyvault:Vault"
APPLICATION_INSIGHTS = "azure-native:applicationinsights:Component"

# Built-in role definition GUIDs, the same in every cloud. The program's table
# (components/role_assignments.py) must agree; a test checks it. The pack runs on its own, so it keeps a copy.
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
KEY_VAULT_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
# A private stack's workspace identity approves its managed network's private endpoints; allowed only where
# the stack's policy config lists it (additionalRoleDefinitionIds).
NETWORK_CONNECTION_APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
BLOB_CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
# The custom invoker role bootstrap/ defines per subscription, under uuid5(this namespace, subscription id);
# components/role_assignments.py derives the same GUID (a test keeps the two equal).
INVOKER_ROLE_NAMESPACE = "9d0c5b8e-3f21-4c6a-8e0b-6a7d2f4c1b93"
# bootstrap/'s private-endpoint subnet role (join and read one subnet), derived per subscription as the invoker's.
SUBNET_JOIN_ROLE_NAMESPACE = "7206b305-daef-487d-8994-26276c4e44e4"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
ONLINE_ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
ROLE_NAMES = {
    STORAGE_BLOB_DATA_READER: "Storage Blob Data Reader",
    ACR_PULL: "AcrPull",
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
    KEY_VAULT_ADMINISTRATOR: "Key Vault Administrator",
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    NETWORK_CONNECTION_APPROVER: "Azure AI Enterprise Network Connection Approver",
}


class Unknown:
    """Stands for a value the engine does not know yet (preview of a resource still to be created)."""

    def __repr__(self) -> str:
        return "<unknown until apply>"


UNKNOWN = Unknown()


class OddShape(ValueError):
    """A property whose shape the rule cannot read (a list where an object belongs, a number for an id...)."""


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Sequence):
        return "a list"
    return "a boolean" if isinstance(value, bool) else "a number" if isinstance(value, (int, float)) else type(value).__name__


def read(container: Any, *path: Any, default: Any = None) -> Any:
    """Follows a path of keys/indexes; UNKNOWN when the engine does not know a value yet; OddShape when a
    value on the way is not the object or list the path needs."""
    value = container
    walked: list[str] = []
    try:
        for key in path:
            if value is None:
                return default
            if isinstance(key, int):
                if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                    raise OddShape(f"{'.'.join(walked) or 'the resource'} is {_kind(value)}, not a list")
                value = value[key] if key < len(value) else None
            else:
                if not isinstance(value, Mapping):
                    raise OddShape(f"{'.'.join(walked) or 'the resource'} is {_kind(value)}, not an object")
                value = value.get(key)
            walked.append(str(key))
        return default if value is None else value
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    """A proxied value as plain data, each unknown replaced by UNKNOWN."""
    try:
        if isinstance(value, str) or value is None or isinstance(value, (int, float, bool)):
            return value
        if isinstance(value, Mapping):
            return {k: plain(read(value, k)) for k in list(value.keys())}
        if isinstance(value, Sequence):
            return [plain(read(value, i)) for i in range(len(value))]
        return value
    except UnknownValueError:
        return UNKNOWN


def _proxy_repr(value: Any) -> str:
    return repr(plain(value))


# A rule's message shows a property as its value: the engine's proxies have no repr of their own, so a list or an
# object in a message printed `<pulumi_policy.proxy._ListProxy object at 0x...>`. One place for every message.
_ListProxy.__repr__ = _DictProxy.__repr__ = _proxy_repr  # type: ignore[method-assign]


def total(validate: Callable) -> Callable:
    """Makes a validator total, as the engine needs it (an exception fails the whole preview):
    an unknown value is "cannot tell yet" (no violation), an odd shape is a violation that says what is odd."""

    @functools.wraps(validate)
    def checked(args: Any, report_violation: Callable) -> None:
        try:
            validate(args, report_violation)
        except UnknownValueError:
            return  # a value the engine learns only at apply: cannot tell yet, the next preview will
        except Exception as error:  # noqa: BLE001 any other failure is an odd shape: report it, never raise
            detail = str(error) if isinstance(error, OddShape) else f"{type(error).__name__}: {error}"
            report_violation(f"Cannot check this rule: a property has an unexpected shape ({detail[:300]}).")

    checked.total = True  # type: ignore[attr-defined]
    return checked


def role_guid(role_definition_id: Any) -> str:
    """The GUID a role definition id ends in ('' when it is no string)."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(role_definition_id, str) else ""


def invoker_guid(role_definition_id: Any, namespace: str = INVOKER_ROLE_NAMESPACE) -> str | None:
    """The invoker role's GUID (or another custom role's, by `namespace`) for the subscription a role definition
    id names, or None without one."""
    if not isinstance(role_definition_id, str):
        return None
    parts = role_definition_id.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    return str(uuid.uuid5(uuid.UUID(namespace), parts[1].lower()))


def arm_type(resource_id: Any) -> str:
    """`Microsoft.Storage/storageAccounts` for an id of a storage account (the last provider's type)."""
    if not isinstance(resource_id, str):
        return ""
    parts = resource_id.strip("/").split("/")
    if "providers" not in [p.lower() for p in parts]:
        return ""
    i = max(i for i, p in enumerate(parts) if p.lower() == "providers")
    namespace, rest = parts[i + 1], parts[i + 2 :]
    return "/".join([namespace] + rest[0::2])


def container_scope(scope: Any) -> bool | None:
    """Whether a role assignment's scope is one blob container; None while the engine does not know it."""
    if scope is UNKNOWN:
        return None
    return isinstance(scope, str) and arm_type(scope) == BLOB_CONTAINER_TYPE


def configured_guids(args: Any, key: str) -> set[str]:
    """Role definition GUIDs a policy's config lists under `key` (a list of strings; anything else counts as none)."""
    configured = (args.get_config() or {}).get(key)
    return {g.lower() for g in configured if isinstance(g, str)} if isinstance(configured, list) else set()


def role_ids_schema(key: str) -> PolicyConfigSchema:
    """The config schema of a rule that takes a list of role definition GUIDs under `key`."""
    return PolicyConfigSchema(properties={key: {"type": "array", "items": {"type": "string"}, "default": []}})


_SCHEMA_TYPES = {
    "boolean": lambda v: isinstance(v, bool),
    # The engine sends policy config as a protobuf Struct, where every number is a double: 10.0 is an integer.
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, Mapping),
}


def _type_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    expected = schema.get("type")
    if expected in _SCHEMA_TYPES and not _SCHEMA_TYPES[expected](value):
        return f"must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, not {_kind(value)} ({shown(value)})"
    item_type = (schema.get("items") or {}).get("type") if expected == "array" else None
    bad = [shown(v) for v in value if not _SCHEMA_TYPES[item_type](v)] if item_type in _SCHEMA_TYPES else []
    return f"must list {item_type}s only, not {', '.join(bad)}" if bad else None


def config_problems(policies: Sequence[Any], config: Mapping[str, Any]) -> list[str]:
    """One line per policy config property the pack does not know or cannot use: a typo (`requird`) would leave a
    rule at its default, a list where an object belongs would switch a baseline rule off, both without a word."""
    import difflib  # only a config with a problem needs it

    by_name = {p.name: p for p in policies}
    problems = []
    for name, properties in config.items():
        policy = by_name.get(name)
        if policy is None:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            problems.append(f"{name}: not a policy of this pack{f'; did you mean {close[0]!r}?' if close else ''}")
            continue
        schema = dict(policy.config_schema.properties or {}) if policy.config_schema else {}
        for key, value in (properties or {}).items():
            if key not in schema:
                close = difflib.get_close_matches(key, list(schema), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{name}.{key}: not a setting of this policy{hint} (settings: {', '.join(schema) or 'none'})")
            elif (problem := _type_problem(value, schema[key])) is not None:
                problems.append(f"{name}.{key}: {problem}")
    return problems


def refuse_bad_config(policies: Sequence[Any]) -> None:
    """Makes the pack's Configure call fail, with every problem on one line, when the policy config has a property
    config_problems finds: the engine calls it as the pack loads, so the run stops before any resource is checked."""
    import grpc
    from google.protobuf import json_format
    from pulumi_policy import policy as policy_module

    servicer = policy_module._PolicyAnalyzerServicer  # the pack's gRPC servicer; Configure is the engine's load call
    configure = servicer.Configure

    def checked(self: Any, request: Any, context: Any) -> Any:
        config = {k: json_format.MessageToDict(v.properties) for k, v in request.policyConfig.items()}
        problems = config_problems(policies, config)
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid policy config: " + "; ".join(problems))
        return configure(self, request, context)

    servicer.Configure = checked


def shown(value: Any) -> str:
    """A property value as a message shows it: plain data (a list as a list, never a proxy object), cut when long."""
    text = repr(plain(value))
    return text if len(text) <= 120 else text[:117] + "..."
