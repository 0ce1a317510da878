"""Prints a stack's policy configuration with the identity each existing endpoint was created with.

    pulumi stack export -s prod > state.json
    python -m tools.baseline state.json --stack prod > policy-config.json
    pulumi preview -s prod --policy-pack policies --policy-pack-config policy-config.json

Reads `pulumi stack export` JSON (version 3 deployments; UTF-8 or UTF-16, streamed one resource at a
time), takes every online and batch endpoint's identity as Azure reported it (outputs, falling back to the
inputs it was created with), and merges the result into policies/config/<stack>.json under
endpoint-identity-baseline. Exit 1, with one line on stderr, on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable

from tools.policy_client import load_policy_config
from tools.pulumi_json import UnusableInput, one_line, stream_array

ENDPOINT_TYPES = ("azure-native:machinelearningservices:OnlineEndpoint", "azure-native:machinelearningservices:BatchEndpoint")
POLICY = "endpoint-identity-baseline"


def _object(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UnusableInput(f"{where} is not an object")
    return value


def identities(resources: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """resourceGroup/workspace/endpoint (lowercase) -> {type, userAssignedIdentities} for every endpoint."""
    found = {}
    for index, resource in enumerate(resources):
        where = f"deployment.resources[{index}]"
        resource = _object(resource, where)
        if resource.get("type") not in ENDPOINT_TYPES or resource.get("delete"):
            continue
        inputs = _object(resource.get("inputs"), f"{where}.inputs")
        outputs = _object(resource.get("outputs"), f"{where}.outputs")
        key = "/".join(str(inputs.get(k, "?")) for k in ("resourceGroupName", "workspaceName", "endpointName")).lower()
        identity = _object(outputs.get("identity") or inputs.get("identity"), f"{where}: identity")
        assigned = identity.get("userAssignedIdentities") or []
        if not isinstance(assigned, (dict, list)) or not all(isinstance(i, str) for i in assigned):
            raise UnusableInput(f"{where}: identity.userAssignedIdentities is neither a map nor a list of ids")
        ids = sorted(assigned.keys() if isinstance(assigned, dict) else assigned)  # outputs: map; inputs: list
        kind = identity.get("type")
        if not isinstance(kind, (str, type(None))):
            raise UnusableInput(f"{where}: identity.type is not a string")
        entry: dict[str, Any] = {"type": kind}
        if ids:
            entry["userAssignedIdentities"] = ids
        found[key] = entry
    return found


def endpoint_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The endpoints' identities of an export already in memory."""
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        raise UnusableInput("not a `pulumi stack export` document: no 'deployment' object")
    resources = deployment.get("resources") or []
    if not isinstance(resources, list):
        raise UnusableInput("deployment.resources is not a list")
    return identities(resources)


def with_baseline(stack: str, baseline: dict[str, dict[str, Any]]) -> dict[str, Any]:
    config = load_policy_config(stack)
    entry = config.get(POLICY, {})
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    config[POLICY] = {**entry, "endpoints": baseline}
    return config


def merged_config(stack: str, export: dict[str, Any]) -> dict[str, Any]:
    return with_baseline(stack, endpoint_identities(export))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="output of `pulumi stack export`")
    parser.add_argument("--stack", required=True, help="stack whose policies/config/<stack>.json is the base")
    args = parser.parse_args(argv)
    try:
        baseline = identities(stream_array(args.export, ("deployment", "resources")))
        print(json.dumps(with_baseline(args.stack, baseline), indent=2, sort_keys=True))
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
