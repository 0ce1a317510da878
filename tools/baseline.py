"""Prints a stack's policy configuration with the identity each existing endpoint and workspace has.

    pulumi stack export -s prod > state.json
    python -m tools.baseline state.json --stack prod > policy-config.json
    pulumi config set -s prod azureml-endpoints:workspaceIdentityBaseline \
        "$(python -m tools.baseline state.json --stack prod --program-config)"
    pulumi preview -s prod --policy-pack policies --policy-pack-config policy-config.json

Reads `pulumi stack export` JSON (version 3 deployments), takes every online and batch endpoint's and every
created workspace's identity as Azure reported it (outputs, falling back to the inputs it was created with),
and merges the result into policies/config/<stack>.json under endpoint-identity-baseline and
workspace-identity-baseline. With --program-config it prints instead the program's workspaceIdentityBaseline
value (resourceGroup/workspace -> identity type), so config validation refuses a workspace identity going back.
Exit 1 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.policy_client import load_policy_config

ENDPOINT_TYPES = ("azure-native:machinelearningservices:OnlineEndpoint", "azure-native:machinelearningservices:BatchEndpoint")
WORKSPACE_TYPE = "azure-native:machinelearningservices:Workspace"
POLICY = "endpoint-identity-baseline"
WORKSPACE_POLICY = "workspace-identity-baseline"


def endpoint_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """resourceGroup/workspace/endpoint (lowercase) -> {type, userAssignedIdentities} for every endpoint in the state."""
    return _identities(export, ENDPOINT_TYPES, ("resourceGroupName", "workspaceName", "endpointName"))


def workspace_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """resourceGroup/workspace (lowercase) -> {type, userAssignedIdentities} for every workspace the stack created."""
    return _identities(export, (WORKSPACE_TYPE,), ("resourceGroupName", "workspaceName"))


def _identities(export: dict[str, Any], types: tuple[str, ...], key_inputs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        raise ValueError("not a `pulumi stack export` document: no 'deployment' object")
    found = {}
    for resource in deployment.get("resources") or []:
        if resource.get("type") not in types or resource.get("delete"):
            continue
        inputs = resource.get("inputs") or {}
        outputs = resource.get("outputs") or {}
        key = "/".join(str(inputs.get(k, "?")) for k in key_inputs).lower()
        identity = outputs.get("identity") or inputs.get("identity") or {}
        assigned = identity.get("userAssignedIdentities") or []
        ids = sorted(assigned.keys() if isinstance(assigned, dict) else assigned)  # outputs: map; inputs: list
        entry = {"type": identity.get("type")}
        if ids:
            entry["userAssignedIdentities"] = ids
        found[key] = entry
    return found


def merged_config(stack: str, export: dict[str, Any]) -> dict[str, Any]:
    config = load_policy_config(stack)
    entry = config.get(POLICY, {})
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    config[POLICY] = {**entry, "endpoints": endpoint_identities(export)}
    entry = config.get(WORKSPACE_POLICY, {})
    if isinstance(entry, str):
        entry = {"enforcementLevel": entry}
    config[WORKSPACE_POLICY] = {**entry, "workspaces": workspace_identities(export)}
    return config


def program_config(export: dict[str, Any]) -> dict[str, str]:
    """The program's workspaceIdentityBaseline: resourceGroup/workspace -> identity type."""
    return {key: entry["type"] for key, entry in workspace_identities(export).items() if isinstance(entry.get("type"), str)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="output of `pulumi stack export`")
    parser.add_argument("--stack", required=True, help="stack whose policies/config/<stack>.json is the base")
    parser.add_argument(
        "--program-config", action="store_true", help="print the program's workspaceIdentityBaseline value instead"
    )
    args = parser.parse_args(argv)
    try:
        export = json.loads(args.export.read_text())
        result = program_config(export) if args.program_config else merged_config(args.stack, export)
        print(json.dumps(result, indent=2, sort_keys=True))
    except (OSError, ValueError) as error:
        print(f"error: {args.export}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
