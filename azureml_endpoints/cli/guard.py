"""Guards a real `pulumi preview --json` before it becomes an `up`, and summarises it for the PR comment.

    pulumi preview -s prod --json --policy-pack policies --policy-pack-config cfg.json > preview.json
    azureml-endpoints guard preview.json

Fails (exit 2) when an endpoint's identity would change, an endpoint would be replaced or deleted, a
protected resource would be deleted, or a resource would be created under the Azure id of another one the
same preview deletes (a renamed resource without an alias: azure-native reads before it creates and
refuses an existing resource, and the delete runs only after the create); otherwise exit 0. Either way it prints a Markdown summary: the change
counts first, then only the changed resources with each changed property path, old -> new, replacements
called out. Exit 1, with one line on stderr, when the input is unusable or the preview itself failed
(error diagnostics). Reads either JSON shape in bounded memory (azureml_endpoints/pulumi_io/pulumi_json.py).

It warns, without blocking, when a deployment that takes live traffic (a share of its online endpoint's
traffic, or its batch endpoint's default) would change its model, code or environment in place: callers are
served by what is being replaced while it is replaced, with no canary and no way back but another deployment
(docs/progressive-rollout.md#changing-what-a-live-deployment-runs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from azureml_endpoints.pulumi_io.files import write_stdout
from azureml_endpoints.pulumi_io.pulumi_json import (
    MISSING,
    Document,
    Step,
    UnusableInput,
    code_span,
    format_path,
    markdown_value,
    one_line,
    parse_path,
    render_pair,
    value_at,
)

ENDPOINT_TYPES = {
    "azure-native:machinelearningservices:OnlineEndpoint",
    "azure-native:machinelearningservices:BatchEndpoint",
}
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "read-replacement"}
DELETE_OPS = {"delete", "delete-replaced", "discard", "discard-replaced"}
UNCHANGED_OPS = {"same", "read", "refresh"}
DEPLOYMENT_TYPES = {
    "azure-native:machinelearningservices:OnlineDeployment",
    "azure-native:machinelearningservices:BatchDeployment",
}
TEMPLATE_TYPE = "azure-native:resources:Deployment"  # an endpoint's traffic or default (components/online_endpoint.py)
# What a deployment runs (Microsoft.MachineLearningServices online/batch deployment properties).
RUNS = {"model": "model", "codeConfiguration": "code", "environmentId": "environment"}
# The inputs azure-native builds a resource's ARM id from (the path parameters of its REST operation, e.g.
# CodeVersions_CreateOrUpdate: resourceGroupName, workspaceName, name, version; Blobs: accountName,
# containerName, blobName). Two resources of one type with equal values here are one Azure resource.
ID_INPUTS = (
    "resourceGroupName",
    "workspaceName",
    "accountName",
    "containerName",
    "blobName",
    "endpointName",
    "deploymentName",
    "computeName",
    "registryName",
    "name",
    "version",
    "resourceName",
    "roleAssignmentName",
    "scope",
)


def _lookup(state: dict | None, path: list) -> object:
    """A property from a state's inputs, else its outputs (output-only properties live there)."""
    state = state or {}
    for part in ("inputs", "outputs"):
        found = value_at(state.get(part) or {}, path)
        if found is not MISSING:
            return found
    return MISSING


OUTPUT_ONLY = "output-only"


def _output_only(step: Step, path: list) -> bool:
    """A property neither state's inputs hold: an output Azure computes (`version`, `primaryEndpoints`), not one
    the stack removes."""
    return all(value_at((state or {}).get("inputs") or {}, path) is MISSING for state in (step.old, step.new))


def _kind(entry: object) -> str:
    if isinstance(entry, dict):
        kind = entry.get("kind") or entry.get("diffKind")
        return kind if isinstance(kind, str) else "update"
    return "update"


def changes(step: Step) -> list[tuple[str, str | None, str | None, str]]:
    """(path, old, new, kind) per changed property: detailedDiff paths, else diffReasons; old and new are
    None when neither state shows the value (the engine only says that it changes)."""
    paths = list(step.detailed_diff) or list(step.diff_reasons) or list(step.replace_reasons)
    result = []
    for path in paths:
        parsed = parse_path(path)
        old, new = _lookup(step.old, parsed), _lookup(step.new, parsed)
        kind = _kind(step.detailed_diff.get(path))
        if old is MISSING and new is MISSING:
            result.append((format_path(parsed), None, None, kind))
        elif new is MISSING and _output_only(step, parsed):  # Azure sets it; a preview has no new outputs yet
            result.append((format_path(parsed), render_pair(old, old)[0], None, OUTPUT_ONLY))
        else:
            result.append((format_path(parsed), *render_pair(old, new), kind))
    return result


def identity_changes(step: Step) -> bool:
    keys = [*step.detailed_diff, *step.diff_reasons, *step.replace_reasons]
    return step.type in ENDPOINT_TYPES and any(parse_path(k)[:1] == ["identity"] for k in keys)


def step_blockers(step: Step) -> list[tuple[str, str]]:
    """(key, message) per reason to block this step; the key says each once per resource and reason."""
    name = code_span(step.name)
    found = []
    if step.type in ENDPOINT_TYPES and identity_changes(step) and step.op not in UNCHANGED_OPS:
        found.append(
            (
                f"identity {step.urn}",
                f"{name}: the endpoint's identity would change; Azure cannot change it. Deploy a new endpoint under a new name instead.",
            )
        )
    if step.type in ENDPOINT_TYPES and step.op in REPLACE_OPS:
        found.append(
            (
                f"replace {step.urn}",
                f"{name}: the endpoint would be replaced ({step.op}); its scoring URI, keys and deployments go with it.",
            )
        )
    elif step.type in ENDPOINT_TYPES and step.op == "delete":
        found.append((f"delete {step.urn}", f"{name}: the endpoint would be deleted, with its deployments."))
    if step.op in DELETE_OPS and (step.old or {}).get("protect") is True:
        found.append((f"protected {step.urn}", f"{name}: a protected resource would be deleted ({step.op})."))
    return found


def azure_identity(step_type: str, state: dict | None) -> tuple | None:
    """The Azure resource a state stands for, from the inputs its ARM id is built of; None when none is known."""
    inputs = (state or {}).get("inputs") or {}
    parts = tuple((k, str(inputs[k]).lower()) for k in ID_INPUTS if isinstance(inputs.get(k), str | int))
    return (step_type, *parts) if parts else None


def collision(created: str, deleted: str) -> str:
    head = f"{code_span(created)}: would be created as the Azure resource {code_span(deleted)} is now, which this preview deletes"
    if _folder_renamed(created, deleted):
        # components/assets.py: the alias from a code folder's earlier name applies only while that name is unique in
        # the stack; which folder had it, the program cannot know (it reads no state).
        return (
            f"{head}: a code folder an earlier release named by its folder name alone, in the same change that adds "
            "another folder of that name, so no alias applies. Run `pulumi up` once with this release before adding "
            "the folder (the alias moves the existing folder to its path name), then add it in a change of its own."
        )
    return (
        f"{head}; the create runs first and azure-native refuses an existing resource. Keep the old name with "
        "`aliases`, or remove the old resource in a change of its own first."
    )


def _folder_renamed(created: str, deleted: str) -> bool:
    """`<assets>-code-<path label>[-<file>]` created where `<assets>-code-<folder name>[-<file>]` is deleted."""
    new, old = created.partition("-code-"), deleted.partition("-code-")
    return bool(new[1] and old[1]) and new[0] == old[0] and new[2].endswith("-" + old[2])


def live_shares(step: Step) -> Iterable[tuple[str, str, str]]:
    """(endpoint, deployment, how it is live) for each deployment that takes traffic now: a traffic template's or an online
    endpoint's state before the step (the state it keeps, for an unchanged step), a batch endpoint's default."""
    state = step.new if step.op in UNCHANGED_OPS and not step.old else step.old
    if step.type == "azure-native:machinelearningservices:OnlineEndpoint":
        endpoint = ((state or {}).get("inputs") or {}).get("endpointName")
        traffic = _lookup(state, ["properties", "traffic"])
        if isinstance(endpoint, str) and isinstance(traffic, dict):
            yield from ((endpoint, d, f"takes {p:g} % of {code_span(endpoint)}'s traffic") for d, p in traffic.items() if _live(p))
    if step.type != TEMPLATE_TYPE:
        return
    resources = _lookup(state, ["properties", "template", "resources"])
    for resource in resources if isinstance(resources, list) else []:
        if not isinstance(resource, dict) or not isinstance(resource.get("name"), str):
            continue
        endpoint, properties = resource["name"].rsplit("/", 1)[-1], resource.get("properties") or {}
        for deployment, percent in (properties.get("traffic") or {}).items():
            if _live(percent):
                yield endpoint, deployment, f"takes {percent:g} % of {code_span(endpoint)}'s traffic"
        default = (properties.get("defaults") or {}).get("deploymentName")
        if isinstance(default, str):
            yield endpoint, default, f"is {code_span(endpoint)}'s default (every job that names no deployment runs it)"


def _live(percent: object) -> bool:
    return isinstance(percent, int | float) and not isinstance(percent, bool) and percent > 0


def runs_changed(step: Step) -> tuple[str, str, list[str]] | None:
    """(endpoint, deployment, what changes) when a deployment is updated or replaced with another model, code or
    environment; None otherwise."""
    if step.type not in DEPLOYMENT_TYPES or step.op in UNCHANGED_OPS or step.op == "create" or step.op in DELETE_OPS - REPLACE_OPS:
        return None
    paths = [parse_path(p) for p in [*step.detailed_diff, *step.diff_reasons]]
    changed = sorted({RUNS[p[1]] for p in paths if len(p) > 1 and p[0] == "properties" and p[1] in RUNS})
    inputs = (step.new or step.old or {}).get("inputs") or {}
    endpoint, deployment = inputs.get("endpointName"), inputs.get("deploymentName")
    if not changed or not isinstance(endpoint, str) or not isinstance(deployment, str):
        return None
    return endpoint, deployment, changed


def live_change(name: str, deployment: str, live: str, changed: list[str]) -> str:
    return (
        f"{code_span(name)}: deployment {code_span(deployment)} {live} and its "
        f"{' and '.join(changed)} would change in place; roll the change out on another deployment and shift traffic "
        "to it instead (docs/progressive-rollout.md#changing-what-a-live-deployment-runs)."
    )


@dataclass
class Review:
    """What the summary shows, kept small: rendered lines, never the resources' states."""

    blockers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    changed_steps: int = 0


def review(steps: Iterable[Step]) -> Review:
    result = Review()
    created: list[tuple[tuple, str]] = []  # (Azure identity, urn): kept small, the states are not
    deleted: dict[tuple, str] = {}
    live: dict[tuple[str, str], str] = {}  # (endpoint, deployment), lower case -> how it takes traffic
    rerun: list[tuple[str, str, str, list[str]]] = []  # (name, endpoint, deployment, what changes)
    for step in steps:
        for endpoint, deployment, how in live_shares(step):
            live.setdefault((endpoint.lower(), deployment.lower()), how)
        if found := runs_changed(step):
            if (step.name, *found) not in rerun:  # a replacement shows in several steps; say it once
                rerun.append((step.name, *found))
        if step.op == "create" and (identity := azure_identity(step.type, step.new)):
            created.append((identity, step.urn))
        elif step.op in ("delete", "discard") and (identity := azure_identity(step.type, step.old)):
            deleted.setdefault(identity, step.urn)
        for key, message in step_blockers(step):
            result.blockers.setdefault(key, message)  # a replacement shows in several steps; say it once
        if step.op in UNCHANGED_OPS:
            continue
        result.changed_steps += 1
        marker = " **(replacement)**" if step.op in REPLACE_OPS else ""
        result.changed.append(f"- {code_span(step.op)} {code_span(step.type)} {code_span(step.name)}{marker}")
        if step.replace_reasons:
            result.changed.append(f"  - replaced because of: {', '.join(code_span(k) for k in step.replace_reasons)}")
        for path, old, new, kind in changes(step):
            if kind == OUTPUT_ONLY:
                result.changed.append(f"  - {code_span(path)}: {markdown_value(old)} (output-only: Azure sets the new value)")
            elif old is None:
                result.changed.append(f"  - {code_span(path)}: {kind} (the preview does not show the value)")
            else:
                result.changed.append(f"  - {code_span(path)}: {markdown_value(old)} → {markdown_value(new)}")
    for identity, urn in created:
        old = deleted.get(identity)
        if old is not None and old != urn:
            result.blockers.setdefault(f"collision {urn}", collision(urn.rsplit("::", 1)[-1], old.rsplit("::", 1)[-1]))
    for name, endpoint, deployment, changed in rerun:
        if how := live.get((endpoint.lower(), deployment.lower())):
            result.warnings.append(live_change(name, deployment, how, changed))
    return result


def summary(found: Review, change_counts: dict[str, int]) -> str:
    lines = ["### Preview summary", ""]
    if change_counts:
        lines.append(", ".join(f"{op}: {n}" for op, n in sorted(change_counts.items())))
    else:
        lines.append(f"{found.changed_steps} changed resource step(s)")
    lines.append("")
    if found.blockers:
        lines += ["**Blocked:**", ""] + [f"- {b}" for b in found.blockers.values()] + [""]
    if found.warnings:
        lines += ["**Warning:**", ""] + [f"- {w}" for w in found.warnings] + [""]
    lines += found.changed
    if not found.changed:
        lines.append("No changes.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="azureml-endpoints guard", description=__doc__.split("\n\n")[0])
    parser.add_argument("preview", type=Path, help="output of `pulumi preview --json` (either shape)")
    args = parser.parse_args(argv)
    document = Document(args.preview)
    try:
        found = review(document.steps())
    except (OSError, UnusableInput) as error:
        print(f"error: {one_line(args.preview)}: {one_line(error)}", file=sys.stderr)
        return 1
    if document.errors:
        more = f" (and {len(document.errors) - 1} more errors)" if len(document.errors) > 1 else ""
        print(f"error: {one_line(args.preview)}: the preview failed: {document.errors[0]}{more}", file=sys.stderr)
        return 1
    if not write_stdout(summary(found, document.change_summary)):
        return 1
    return 2 if found.blockers else 0


if __name__ == "__main__":
    sys.exit(main())
