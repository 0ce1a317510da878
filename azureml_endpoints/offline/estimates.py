"""What `pulumi up` will cost before anyone runs it: core quota, time, and the dependency graph.

Quota (Azure ML docs, "Deploy and score a machine learning model by using an online endpoint"): a managed online deployment of N instances of a SKU with C cores reserves
ceil(1.2 * N) * C cores (20% extra for upgrades), counted per VM family. Under autoscale N is the setting's
maximum: the scaler may reach it without anyone running `up`. A compute cluster can grow to
maxNodes * C cores of its VM size; dedicated clusters count in the same per-family Azure ML quota as online
deployments, low-priority ones in the region's one low-priority total.

Time: the critical path of the dependency graph, each resource weighted by a typical create time, next
to the sum of all steps done one by one. The weights are assumptions, one per resource type in
azureml_endpoints/offline/resource_types.py, which says where each comes from.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

from azureml_endpoints.azure.skus import sku_info, vm_size_info
from azureml_endpoints.offline.arm_mocks import Registration
from azureml_endpoints.offline.resource_types import create_seconds

# --- quota ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaLine:
    deployment: str
    instance_type: str
    instances: int
    cores_per_instance: int
    family: str

    @property
    def reserved_cores(self) -> int:
        return reserved_cores(self.instances, self.cores_per_instance)


def reserved_cores(instances: int, cores: int) -> int:
    """Azure ML docs, "Deploy and score a machine learning model by using an online endpoint": ceil(1.2 * N) * C; 10 x Standard_DS3_v2 (4 cores) reserves 48."""
    return math.ceil(1.2 * instances) * cores


def autoscale_maximum(resources: list[Registration]) -> dict[str, int]:
    """Deployment ARM id (lowercase) -> the most instances an autoscale setting targeting it may run."""
    return {
        str(r.inputs.get("targetResourceUri", "")).lower(): max(int(p["capacity"]["maximum"]) for p in r.inputs["profiles"])
        for r in resources
        if r.type == "azure-native:monitor:AutoscaleSetting"
    }


def online_quota(resources: list[Registration]) -> tuple[list[QuotaLine], dict[str, int]]:
    lines = []
    scaled = autoscale_maximum(resources)
    for r in resources:
        if r.type != "azure-native:machinelearningservices:OnlineDeployment":
            continue
        name, cores, family = sku_info(r.inputs["properties"]["instanceType"])
        instances = scaled.get(r.id.lower(), int(r.inputs["sku"]["capacity"]))
        lines.append(QuotaLine(r.name, name, instances, cores, family))
    per_family: dict[str, int] = defaultdict(int)
    for line in lines:
        per_family[line.family] += line.reserved_cores
    return lines, dict(sorted(per_family.items()))


LOW_PRIORITY = "lowPriorityCores"  # one regional total for every low-priority VM, whatever the family


@dataclass(frozen=True)
class ClusterQuotaLine:
    cluster: str
    vm_size: str
    max_nodes: int
    cores_per_node: int | None  # None: a VM size components/skus.py does not list
    family: str | None
    priority: str

    @property
    def reserved_cores(self) -> int:
        return self.max_nodes * (self.cores_per_node or 0)


def cluster_quota(resources: list[Registration]) -> list[ClusterQuotaLine]:
    """Each AmlCompute cluster at its maximum size: maxNodes x vCPUs of its VM size."""
    lines = []
    for r in resources:
        if r.type != "azure-native:machinelearningservices:Compute":
            continue
        p = r.inputs["properties"]["properties"]
        info = vm_size_info(p["vmSize"])
        name, cores, family = info if info else (p["vmSize"], None, None)
        priority = p.get("vmPriority", "Dedicated")
        lines.append(ClusterQuotaLine(r.name, name, int(p["scaleSettings"]["maxNodeCount"]), cores, family, priority))
    return lines


def cores_per_family(online: list[QuotaLine], clusters: list[ClusterQuotaLine]) -> dict[str, int]:
    per_family: dict[str, int] = defaultdict(int)
    for line in online:
        per_family[line.family] += line.reserved_cores
    for c in clusters:
        if c.cores_per_node is not None:
            per_family[LOW_PRIORITY if c.priority == "LowPriority" else c.family] += c.reserved_cores
    return dict(sorted(per_family.items()))


# --- the dependency graph ---------------------------------------------------------------------------------------


@dataclass
class Graph:
    """Custom resources and the dependencies the engine orders them by (edges point to dependents)."""

    nodes: dict[str, Registration]  # urn -> resource
    edges: list[tuple[str, str]]  # (dependency urn, dependent urn)
    components: dict[str, Registration]  # urn -> component resource


def dependency_graph(resources: list[Registration]) -> Graph:
    nodes = {r.urn: r for r in resources if r.custom}
    components = {r.urn: r for r in resources if not r.custom}
    edges = sorted({(dep, r.urn) for r in nodes.values() for dep in r.dependencies if dep in nodes and dep != r.urn})
    return Graph(nodes, edges, components)


@dataclass(frozen=True)
class TimeEstimate:
    critical_path: list[str]  # resource names, first to last
    critical_seconds: tuple[float, float]
    serial_seconds: tuple[float, float]


def time_estimate(graph: Graph) -> TimeEstimate:
    """Longest path by typical create time (low and high weights), against doing every step one by one."""
    dependents: dict[str, list[str]] = defaultdict(list)
    indegree = {urn: 0 for urn in sorted(graph.nodes)}  # sorted: the same path every run
    for dep, urn in graph.edges:
        dependents[dep].append(urn)
        indegree[urn] += 1
    order = [urn for urn, d in indegree.items() if d == 0]
    for urn in order:  # Kahn's algorithm; `order` grows while it is walked
        for nxt in dependents[urn]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                order.append(nxt)
    if len(order) != len(graph.nodes):
        raise ValueError("the dependency graph has a cycle")

    def longest(weight_index: int) -> tuple[float, list[str]]:
        finish: dict[str, float] = {}
        previous: dict[str, str | None] = {}
        for urn in order:
            finish.setdefault(urn, 0.0)
            previous.setdefault(urn, None)
            finish[urn] += create_seconds(graph.nodes[urn])[weight_index]
            for nxt in dependents[urn]:
                if finish[urn] > finish.get(nxt, 0.0):
                    finish[nxt], previous[nxt] = finish[urn], urn
        end = max(finish, key=lambda u: (finish[u], u)) if finish else None
        path = []
        while end is not None:
            path.append(graph.nodes[end].name)
            end = previous[end]
        return (max(finish.values()) if finish else 0.0), path[::-1]

    low, _ = longest(0)
    high, path = longest(1)
    serial = tuple(sum(create_seconds(r)[i] for r in graph.nodes.values()) for i in (0, 1))
    return TimeEstimate(path, (low, high), serial)


def mermaid(graph: Graph) -> str:
    """The graph as a Mermaid flowchart, each component a subgraph holding its children."""
    ids = {urn: f"n{i}" for i, urn in enumerate(sorted(graph.nodes))}
    ids.update({urn: f"c{i}" for i, urn in enumerate(sorted(graph.components))})
    children: dict[str, list[str]] = defaultdict(list)
    for urn in sorted(graph.nodes) + sorted(graph.components):
        resource = graph.nodes.get(urn) or graph.components[urn]
        parent = resource.parent if resource.parent in graph.components else ""
        children[parent].append(urn)
    lines = ["flowchart LR"]

    def label(r: Registration) -> str:
        kind = r.type.rsplit(":", 1)[-1]
        return re.sub(r'["\[\]]', "", f"{kind}<br/>{r.name}")

    def emit(parent: str, depth: int):
        pad = "  " * depth
        for urn in children.get(parent, []):
            if urn in graph.components:
                lines.append(f'{pad}subgraph {ids[urn]}["{label(graph.components[urn])}"]')
                emit(urn, depth + 1)
                lines.append(f"{pad}end")
            else:
                lines.append(f'{pad}{ids[urn]}["{label(graph.nodes[urn])}"]')

    emit("", 1)
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    return "\n".join(lines) + "\n"
