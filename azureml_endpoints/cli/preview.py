"""Offline preview: what `pulumi up -s <stack>` would create, without Azure or the Pulumi CLI.

    azureml-endpoints preview --stack dev [--json] [--summary report.md] [--graph graph.mmd] [--stack-file F]

Evaluates the program under the ARM-like mocks, prints the plan as a tree like `pulumi preview` with the
settings a reviewer checks, runs the policy pack the way the engine does (its own process, over gRPC,
with policies/config/<stack>.json), says what the landing zone initiative Enforce-Guardrails-MachineLearning
would deny, modify or audit (azureml_endpoints/azure/landing_zone.py; informational, no exit code), writes the
dependency graph as Mermaid, and estimates core quota and deployment time. Exit codes: 0 clean, 1 the program or its config failed, 2 a mandatory policy violation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from azureml_endpoints.azure.landing_zone import INITIATIVE, landing_zone_findings
from azureml_endpoints.config.base import SettingsError
from azureml_endpoints.offline.estimates import cluster_quota, cores_per_family, dependency_graph, mermaid, online_quota, time_estimate
from azureml_endpoints.offline.evaluate import Evaluation, evaluate
from azureml_endpoints.offline.policy_client import PolicyPackServer, Violation, load_policy_config, policy_config_file
from azureml_endpoints.offline.resource_types import preview_line
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic, write_stdout
from azureml_endpoints.pulumi_io.stack_files import StackFileError, is_secret, read_stack_file, shipped_stacks, stack_config


def plan(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Resources in registration order with parent, operation and reviewer details."""
    return [
        {
            "op": "create",
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "parent": r.parent,
            "details": preview_line(r),
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


def _minutes(seconds: tuple[float, float]) -> str:
    return f"{seconds[0] / 60:.1f} to {seconds[1] / 60:.1f} min"


def report(evaluation: Evaluation, violations: list[Violation]) -> dict[str, Any]:
    """Everything the preview found, as data: the plan, the verdicts, the estimates and the graph."""
    graph = dependency_graph(evaluation.registrations)
    quota_lines, _ = online_quota(evaluation.registrations)
    clusters = cluster_quota(evaluation.registrations)
    timing = time_estimate(graph)
    landing_zone = [
        {
            "resource": f.resource,
            "effect": f.policy.effect,
            "policy": f.policy.reference_id,
            "definitionId": f.policy.definition_id,
            "displayName": f.policy.display_name,
            "reason": f.reason,
        }
        for f in landing_zone_findings(evaluation.registrations)
    ]
    return {
        "stack": evaluation.stack,
        "steps": plan(evaluation),
        "outputs": {k: "[secret]" if is_secret(v) else v for k, v in evaluation.outputs.items()},
        "violations": [
            {"policy": v.policy, "level": v.level, "resource": v.resource_name, "urn": v.urn, "message": v.message} for v in violations
        ],
        "landingZone": landing_zone,
        "quota": {
            "deployments": [
                {
                    "deployment": q.deployment,
                    "instanceType": q.instance_type,
                    "instances": q.instances,
                    "coresPerInstance": q.cores_per_instance,
                    "family": q.family,
                    "reservedCores": q.reserved_cores,
                }
                for q in quota_lines
            ],
            "clusters": [
                {
                    "cluster": c.cluster,
                    "vmSize": c.vm_size,
                    "maxNodes": c.max_nodes,
                    "coresPerNode": c.cores_per_node,
                    "family": c.family,
                    "priority": c.priority,
                    "reservedCores": c.reserved_cores,
                }
                for c in clusters
            ],
            "coresPerFamily": cores_per_family(quota_lines, clusters),
        },
        "time": {
            "criticalPath": timing.critical_path,
            "criticalPathSeconds": list(timing.critical_seconds),
            "serialSeconds": list(timing.serial_seconds),
        },
        "graph": mermaid(graph),
    }


def render_findings(doc: dict[str, Any]) -> str:
    lines = ["", "", "Policy violations:" if doc["violations"] else "Policy violations: none"]
    for v in doc["violations"]:
        lines.append(f"    {v['level']}: [{v['policy']}] {v['resource']}: {v['message']}")
    lines += ["", f"Landing zone ({INITIATIVE}, default effects):" if doc["landingZone"] else f"Landing zone ({INITIATIVE}): nothing"]
    for f in doc["landingZone"]:
        lines.append(f"    {f['effect']}: [{f['definitionId']} {f['policy']}] {f['resource']}: {f['reason']}")
    lines += ["", "Quota (online deployments reserve ceil(1.2 x instances) x cores, clusters up to maxNodes x cores):"]
    for q in doc["quota"]["deployments"]:
        lines.append(
            f"    {q['deployment']}: {q['instances']} x {q['instanceType']} ({q['coresPerInstance']} cores) -> {q['reservedCores']} cores"
        )
    for c in doc["quota"]["clusters"]:
        size = f"{c['coresPerNode']} cores" if c["coresPerNode"] else "cores unknown: add the size to components/skus.py"
        lines.append(f"    {c['cluster']}: up to {c['maxNodes']} x {c['vmSize']} ({size}, {c['priority']}) -> {c['reservedCores']} cores")
    for family, cores in doc["quota"]["coresPerFamily"].items():
        lines.append(f"    total {family}: {cores} cores")
    t = doc["time"]
    lines += [
        "",
        f"Time: critical path {_minutes(t['criticalPathSeconds'])}; every step one by one {_minutes(t['serialSeconds'])}",
        "    " + " -> ".join(t["criticalPath"]),
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
    """A report GitHub renders as-is: summary, violations, estimates, graph."""
    counts: dict[str, int] = {}
    for step in doc["steps"]:
        counts[step["type"]] = counts.get(step["type"], 0) + 1
    mandatory = [v for v in doc["violations"] if v["level"] == "mandatory"]
    verdict = "blocked by mandatory policy violations" if mandatory else "passes the policy pack"
    lines = [
        f"## Offline preview: `{doc['stack']}`",
        "",
        f"{len(doc['steps'])} resources to create; {verdict}.",
        "",
        "| type | count |",
        "|---|---|",
        *[f"| `{t}` | {n} |" for t, n in sorted(counts.items())],
        "",
        "### Policy violations",
        "",
    ]
    if doc["violations"]:
        lines += ["| level | policy | resource | message |", "|---|---|---|---|"]
        lines += [f"| {v['level']} | `{v['policy']}` | `{v['resource']}` | {_cell(v['message'])} |" for v in doc["violations"]]
    else:
        lines.append("None.")
    lines += ["", f"### Landing zone: `{INITIATIVE}`", ""]
    if doc["landingZone"]:
        lines += ["What the initiative's policies, at their default effects, would do to what this stack declares.", ""]
        lines += ["| resource | effect | policy (built-in id) | why |", "|---|---|---|---|"]
        lines += [
            f"| `{f['resource']}` | {f['effect']} | {_cell(f['displayName'])} (`{f['definitionId']}`) | {_cell(f['reason'])} |"
            for f in doc["landingZone"]
        ]
    else:
        lines.append("None of its policies would deny, modify or audit what this stack declares.")
    lines += ["", "### Estimates", "", "| online deployment | instances | SKU | reserved cores |", "|---|---|---|---|"]
    lines += [
        f"| `{q['deployment']}` | {q['instances']} | {q['instanceType']} | {q['reservedCores']} |" for q in doc["quota"]["deployments"]
    ]
    if doc["quota"]["clusters"]:
        lines += ["", "| compute cluster | max nodes | VM size | priority | cores at max |", "|---|---|---|---|---|"]
        lines += [
            f"| `{c['cluster']}` | {c['maxNodes']} | {c['vmSize']} | {c['priority']} | {c['reservedCores']} |"
            for c in doc["quota"]["clusters"]
        ]
    lines += [""] + [f"- {family}: **{cores} cores**" for family, cores in doc["quota"]["coresPerFamily"].items()]
    t = doc["time"]
    lines += [
        f"- Time: critical path **{_minutes(t['criticalPathSeconds'])}**, every step one by one {_minutes(t['serialSeconds'])}",
        f"- Critical path: {' → '.join(f'`{n}`' for n in t['criticalPath'])}",
        "",
        "### Dependency graph",
        "",
        "```mermaid",
        doc["graph"].rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(lines)


def run_policies(evaluation: Evaluation) -> list[Violation]:
    with PolicyPackServer() as pack:
        return pack.check(evaluation.registrations, load_policy_config(evaluation.stack))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints preview", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help=f"stack name ({', '.join(shipped_stacks())})")
    parser.add_argument("--stack-file", type=Path, help="read the config from this file instead of Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.add_argument("--summary", type=Path, help="write a Markdown report (plan, violations, estimates, graph)")
    parser.add_argument("--graph", type=Path, help="where to write the Mermaid graph (default preview-out/<stack>.mmd)")
    args = parser.parse_args(argv)
    try:
        config = read_stack_file(args.stack_file) if args.stack_file else stack_config(args.stack)
        evaluation = evaluate(args.stack, config=config or {}, raise_errors=False)
    except (OSError, StackFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if evaluation.error is not None:
        kind = "" if isinstance(evaluation.error, SettingsError) else f"{type(evaluation.error).__name__}: "
        print(f"error: {kind}{evaluation.error}", file=sys.stderr)
        return 1
    if not policy_config_file(args.stack).is_file():
        print(f"note: no policies/config/{args.stack}.json; the pack runs with its defaults", file=sys.stderr)
    doc = report(evaluation, run_policies(evaluation))

    graph_path = args.graph or Path("preview-out") / f"{args.stack}.mmd"
    try:  # the report is written whatever the verdict: it is what shows the violations
        for path, text in ((graph_path, doc["graph"]), *(((args.summary, render_markdown(doc)),) if args.summary else ())):
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
    except (OSError, WriteFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.json:
        shown = json.dumps(doc, indent=2)
    else:
        shown = render_tree(evaluation) + render_findings(doc)
        shown += "\n\nGraph: " + str(graph_path) + (f"; report: {args.summary}" if args.summary else "")
    if not write_stdout(shown):
        return 1
    return 2 if any(v["level"] == "mandatory" for v in doc["violations"]) else 0


if __name__ == "__main__":
    sys.exit(main())
