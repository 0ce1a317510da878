"""Prints a stack's policy configuration with the identity each existing endpoint was created with.

    pulumi stack export -s prod > state.json
    python -m tools.baseline state.json --stack prod > policy-config.json
    pulumi preview -s prod --policy-pack policies --policy-pack-config policy-config.json

Reads `pulumi stack export` JSON (version 3 deployments), takes every online and batch endpoint's identity
as Azure reported it (outputs, falling back to the inputs it was created with), and merges the result into
policies/config/<stack>.json under endpoint-identity-baseline. Exit 1 on unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.policy_client import load_policy_config

ENDPOINT_TYPES = ("azure-native:machinelearningservices:OnlineEndpoint", "azure-native:machinelearningservices:BatchEndpoint")
POLICY = "endpoint-identity-baseline"


def endpoint_identities(export: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """resourceGroup/workspace/endpoint (lowercase) -> {type, userAssignedIdentities} for every endpoint in the state."""
    deployment = export.get("deployment") if isinstance(export, dict) else None
    if not isinstance(deployment, dict):
        raise ValueError("not a `pulumi stack export` document: no 'deployment' object")
    found = {}
    for resource in deployment.get("resources") or []:
        if resource.get("type") not in ENDPOINT_TYPES or resource.get("delete"):
            continue
        inputs = resource.get("inputs") or {}
        outputs = resource.get("outputs") or {}
        key = "/".join(str(inputs.get(k, "?")) for k in ("resourceGroupName", "workspaceName", "endpointName")).lower()
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
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", type=Path, help="output of `pulumi stack export`")
    parser.add_argument("--stack", required=True, help="stack whose policies/config/<stack>.json is the base")
    args = parser.parse_args(argv)
    try:
        export = json.loads(args.export.read_text())
        print(json.dumps(merged_config(args.stack, export), indent=2, sort_keys=True))
    except (OSError, ValueError) as error:
        print(f"error: {args.export}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
