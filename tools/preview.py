"""Offline preview: what `pulumi up -s <stack>` would create, without Azure or the Pulumi CLI.

    python -m tools.preview --stack dev [--json]

Evaluates the program under the ARM-like mocks and prints the plan as a tree, like `pulumi preview`,
with the settings a reviewer checks. Exit codes: 0 clean, 1 the program or its config failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from components.role_assignments import ROLE_DEFINITIONS
from components.settings import SettingsError
from tools.arm_mocks import Registration
from tools.evaluate import Evaluation, evaluate, is_secret, shipped_stacks

_ROLE_NAMES = {guid: name for name, guid in ROLE_DEFINITIONS.items()}


def _short_id(resource_id: str) -> str:
    parts = resource_id.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else resource_id


def details(r: Registration) -> str:
    """The settings a reviewer checks for one resource."""
    i = r.inputs
    t = r.type
    if t.endswith(":RoleAssignment"):
        role = _ROLE_NAMES.get(i["roleDefinitionId"].rsplit("/", 1)[-1], i["roleDefinitionId"])
        return f"{role} -> {_short_id(i['scope'])} ({i.get('principalType')})"
    if t.endswith("Endpoint") and t.startswith("azure-native:machinelearningservices"):
        flags = " protected" if r.protect else ""
        return f"identity {i['identity']['type']}, auth {i['properties']['authMode']}{flags}"
    if t.endswith(":OnlineDeployment"):
        p = i["properties"]
        return f"{p['instanceType']} x {int(i['sku']['capacity'])}, script {p['codeConfiguration']['scoringScript']}"
    if t.endswith(":BatchDeployment"):
        p = i["properties"]
        retry = p["retrySettings"]
        return (
            f"instances {int(p['resources']['instanceCount'])}, concurrency {int(p['maxConcurrencyPerInstance'])}, "
            f"mini-batch {int(p['miniBatchSize'])}, retries {int(retry['maxRetries'])}/{retry['timeout']}, "
            f"error threshold {int(p['errorThreshold'])}, {p['outputAction']} -> {p['outputFileName']}"
        )
    if t.endswith(":Compute"):
        p = i["properties"]["properties"]
        scale = p["scaleSettings"]
        return (
            f"{p['vmSize']} {int(scale.get('minNodeCount', 0))}..{int(scale['maxNodeCount'])} nodes, "
            f"idle {scale['nodeIdleTimeBeforeScaleDown']}, identity {i['identity']['type']}"
        )
    if t.endswith(":Datastore"):
        return f"{i['name']} -> container {i['properties']['containerName']}, credentials {i['properties']['credentials']['credentialsType']}"
    if t == "azure-native:resources:Deployment":
        (endpoint,) = i["properties"]["template"]["resources"]
        p = endpoint["properties"]
        if "defaults" in p:
            return f"default deployment {p['defaults']['deploymentName']}"
        split = ", ".join(f"{k} {int(v)}%" for k, v in p["traffic"].items())
        mirror = p.get("mirrorTraffic")
        return f"traffic {split}" + (f"; mirror {', '.join(f'{k} {int(v)}%' for k, v in mirror.items())}" if mirror else "")
    if t.endswith(":StorageAccount"):
        return f"{i['accountName']} {i['sku']['name']} {i['minimumTlsVersion']} in {i['location']}"
    if t.endswith(":UserAssignedIdentity"):
        return i["resourceName"]
    if t.endswith("Version") and t.startswith("azure-native:machinelearningservices"):
        return f"{i['name']}:{i['version']}"
    if t.endswith(":Blob"):
        return f"{i['containerName']}/{i['blobName']}"
    if t == "pulumi-python:dynamic:Resource":
        return f"wait {int(i['seconds'])}s for role propagation"
    return ""


def plan(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Resources in registration order with parent, operation and reviewer details."""
    return [
        {
            "op": "create",
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "details": details(r),
            "protect": r.protect,
        }
        for r in evaluation.registrations
    ]


def render_tree(evaluation: Evaluation) -> str:
    steps = plan(evaluation)
    children: dict[str, list[dict]] = {}
    for step in steps:
        children.setdefault(step["parent"], []).append(step)
    root = next(iter(children.keys() - {s["urn"] for s in steps}), "")
    lines = [f"Previewing update ({evaluation.stack}), offline under ARM-like mocks:", "", "     Type    Name    Details"]
    lines.append(f" +   pulumi:pulumi:Stack    {root.rsplit('::', 1)[-1]}")

    def walk(parent: str, depth: int):
        for step in sorted(children.get(parent, []), key=lambda s: (s["type"], s["name"])):
            detail = f"    [{step['details']}]" if step["details"] else ""
            lines.append(f" +   {'   ' * depth}├─ {step['type']}    {step['name']}{detail}")
            walk(step["urn"], depth + 1)

    walk(root, 1)
    lines += ["", "Outputs:"]
    for key, value in sorted(evaluation.outputs.items()):
        lines.append(f"    {key}: {'[secret]' if is_secret(value) else json.dumps(value, sort_keys=True)}")
    lines += ["", f"Resources:\n    + {sum(1 for s in steps)} to create"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help=f"stack name ({', '.join(shipped_stacks())})")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)
    try:
        evaluation = evaluate(args.stack, raise_errors=False)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if evaluation.error is not None:
        kind = "" if isinstance(evaluation.error, SettingsError) else f"{type(evaluation.error).__name__}: "
        print(f"error: {kind}{evaluation.error}", file=sys.stderr)
        return 1
    if args.json:
        outputs = {k: "[secret]" if is_secret(v) else v for k, v in evaluation.outputs.items()}
        print(json.dumps({"stack": args.stack, "steps": plan(evaluation), "outputs": outputs}, indent=2))
    else:
        print(render_tree(evaluation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
