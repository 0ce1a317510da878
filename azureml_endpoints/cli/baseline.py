"""Prints a stack's policy configuration with the identity each existing endpoint and workspace has.

    pulumi stack export -s prod > state.json
    azureml-endpoints baseline state.json --stack prod > policy-config.json
    pulumi config set -s prod azureml-endpoints:workspaceIdentityBaseline \
        "$(azureml-endpoints baseline state.json --stack prod --program-config)"
    pulumi preview -s prod --policy-pack policies --policy-pack-config policy-config.json

Reads `pulumi stack export` JSON (version 3 deployments; UTF-8 or UTF-16, streamed one resource at a
time), takes every online and batch endpoint's and every created workspace's identity as Azure reported it
(outputs, falling back to the inputs it was created with), and merges the result into
policies/config/<stack>.json under endpoint-identity-baseline and workspace-identity-baseline, and each created
workspace's managed network isolation mode under workspace-isolation-baseline. With
--program-config it prints instead the program's workspaceIdentityBaseline value (resourceGroup/workspace ->
identity type), so config validation refuses a workspace identity going back. Exit 1, with one line on stderr,
on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from azureml_endpoints.offline.policy_client import load_policy_config
from azureml_endpoints.pulumi_io.pulumi_json import UnusableInput, one_line, stream_array

ENDPOINT_TYPES = ("azure-native:machinelearningservices:OnlineEndpoint", "azure-native:machinelearningservices:BatchEndpoint")
WORKSPACE_TYPE = "azure-native:machinelearningservices:Workspace"
POLICY = "endpoint-identity-baseline"
WORKSPACE_POLICY = "workspace-identity-baseline"
ISOLATION_POLICY = "workspace-isolation-baseline"
# The inputs that name each kind: its key in the baseline is resourceGroup/workspace[/endpoint], lowercase.
KEY_INPUTS = {
    **{t: ("resourceGroupName", "workspaceName", "endpointName") for t in ENDPOINT_TYPES},
    WORKSPACE_TYPE: ("resourceGroupName", "workspaceName"),
}


def _object(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnusableInput(f"{where} is not an object")
    return value


def identities(resources: Iterable[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(endpoints, workspaces): key -> {type, userAssignedIdentities} (and a workspace's isolationMode when it has a
    managed network), in one pass over the state's resources."""
    endpoints: dict[str, dict[str, Any]] = {}
    workspaces: dict[str, dict[str, Any]] = {}
    for index, resource in enumerate(resources):
        where = f"deployment.resources[{index}]"
        resource = _object(resource, where)
        kind = resource.get("type")
        if kind not in KEY_INPUTS or resource.get("delete"):
            continue
        inputs = _object(resource.get("inputs"), f"{where}.inputs")
        outputs = _object(resource.get("outputs"), f"{where}.outputs")
        missing = [k for k in KEY_INPUTS[kind] if not isinstance(inputs.get(k), str) or not inputs[k]]
        if missing:  # a baseline under "?/?/?" would protect no endpoint, and the run would look complete
            raise UnusableInput(f"{where}: a {kind.rsplit(':', 1)[-1]} without inputs {', '.join(missing)}, which name it in the baseline")
        key = "/".join(inputs[k] for k in KEY_INPUTS[kind]).lower()
        identity = _object(outputs.get("identity") or inputs.get("identity"), f"{where}: identity")
        assigned = identity.get("userAssignedIdentities") or []
        if not isinstance(assigned, (dict, list)) or not all(isinstance(i, str) for i in assigned):
            raise UnusableInput(f"{where}: identity.userAssignedIdentities is neither a map nor a list of ids")
        ids = sorted(assigned.keys() if isinstance(assigned, dict) else assigned)  # outputs: map; inputs: list
        identity_type = identity.get("type")
        if not isinstance(identity_type, (str, type(None))):
            raise UnusableInput(f"{where}: identity.type is not a string")
        entry: dict[str, Any] = {"type": identity_type}
        if ids:
            entry["userAssignedIdentities"] = ids
        network = _object(outputs.get("managedNetwork") or inputs.get("managedNetwork"), f"{where}: managedNetwork")
        if kind == WORKSPACE_TYPE and isinstance(network.get("isolationMode"), str):
            entry["isolationMode"] = network["isolationMode"]
        (workspaces if kind == WORKSPACE_TYPE else endpoints)[key] = entry
    return endpoints, workspaces


def _resources(export: dict[str, Any]) -> list:
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        raise UnusableInput("not a `pulumi stack export` document: no 'deployment' object")
    resources = deployment.get("resources") or []
    if not isinstance(resources, list):
        raise UnusableInput("deployment.resources is not a list")
    return resources


def endpoint_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The endpoints' identities of an export already in memory."""
    return identities(_resources(export))[0]


def workspace_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The created workspaces' identities of an export already in memory."""
    return identities(_resources(export))[1]


def with_baseline(stack: str, endpoints: dict[str, dict[str, Any]], workspaces: dict[str, dict[str, Any]]) -> dict[str, Any]:
    config = load_policy_config(stack)
    isolation = {key: entry["isolationMode"] for key, entry in workspaces.items() if "isolationMode" in entry}
    identity = {key: {k: v for k, v in entry.items() if k != "isolationMode"} for key, entry in workspaces.items()}
    for policy, field, baseline in (
        (POLICY, "endpoints", endpoints),
        (WORKSPACE_POLICY, "workspaces", identity),
        (ISOLATION_POLICY, "workspaces", isolation),
    ):
        entry = config.get(policy, {})
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        config[policy] = {**entry, field: baseline}
    return config


def merged_config(stack: str, export: dict[str, Any]) -> dict[str, Any]:
    return with_baseline(stack, *identities(_resources(export)))


def program_config(workspaces: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The program's workspaceIdentityBaseline: resourceGroup/workspace -> identity type."""
    return {key: entry["type"] for key, entry in workspaces.items() if isinstance(entry.get("type"), str)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="output of `pulumi stack export`")
    parser.add_argument("--stack", required=True, help="stack whose policies/config/<stack>.json is the base")
    parser.add_argument("--program-config", action="store_true", help="print the program's workspaceIdentityBaseline value instead")
    args = parser.parse_args(argv)
    try:
        endpoints, workspaces = identities(stream_array(args.export, ("deployment", "resources")))
        result = program_config(workspaces) if args.program_config else with_baseline(args.stack, endpoints, workspaces)
        print(json.dumps(result, indent=2, sort_keys=True))
    except UnusableInput as error:
        message = str(error)
        if message == "no 'deployment' object":
            message = "not a `pulumi stack export` document: no 'deployment' object"
        print(f"error: {one_line(args.export)}: {one_line(message)}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: {one_line(args.export)}: {one_line(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
