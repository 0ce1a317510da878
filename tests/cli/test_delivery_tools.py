"""azureml_endpoints.cli.guard and azureml_endpoints.cli.drift over fixtures in the JSON shapes the Pulumi CLI documents.

Preview digest (`pulumi preview --json`, display.PreviewDigest): steps of {op, urn, oldState, newState,
diffReasons, replaceReasons, detailedDiff{path: {kind, inputDiff}}}, changeSummary. Engine events
(apitype.EngineEvent, one JSON object per line): resourcePreEvent / resOutputsEvent with metadata
{op, urn, type, old, new, diffs, keys, detailedDiff{path: {diffKind, inputDiff}}}, summaryEvent.
"""

import copy
import json

import pytest

from azureml_endpoints.cli import drift, guard
from azureml_endpoints.pulumi_io.pulumi_json import SECRET_SIG, UnusableInput, load, parse_path

SECRET = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}


def state(r, **changes) -> dict:
    """apitype.ResourceV3 of a registration, as `pulumi stack export` and the digest carry it."""
    result = {
        "urn": r.urn,
        "custom": r.custom,
        "id": r.id,
        "type": r.type,
        "inputs": copy.deepcopy(r.inputs),
        "outputs": copy.deepcopy(r.outputs),
        "parent": r.parent,
        "protect": r.protect,
    }
    result.update(changes)
    return result


def digest(*steps, summary=None) -> str:
    return json.dumps(
        {"config": {"azureml-endpoints:environment": "dev"}, "steps": list(steps), "changeSummary": summary or {}, "duration": 1200000000}
    )


def events(*records) -> str:
    lines = [{"sequence": 0, "timestamp": 1, "preludeEvent": {"config": {}}}]
    for i, (kind, metadata) in enumerate(records, start=1):
        lines.append({"sequence": i, "timestamp": 1, kind: {"metadata": metadata}})
    lines.append(
        {
            "sequence": len(lines),
            "timestamp": 2,
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 3,
                "resourceChanges": {"same": 30},
                "PolicyPacks": {},
                "isPreview": True,
            },
        }
    )
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def refresh_events(*refreshes) -> str:
    """An event stream of refreshes: (registration, recorded state, actual state, what the refresh found)."""
    records = []
    for r, old, new, result in refreshes:
        records.append(("resourcePreEvent", {"op": "refresh", "urn": r.urn, "type": r.type, "old": old, "new": old}))
        records.append(("resOutputsEvent", {"op": result, "urn": r.urn, "type": r.type, "old": old, "new": new}))
    return events(*records)


def run(tool, text, tmp_path, capsys, *extra):
    path = tmp_path / "input.json"
    path.write_text(text)
    code = tool.main([str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- guard ----------------------------------------------------------------------------------------------------------


def test_guard_summarises_an_ordinary_update(dev, tmp_path, capsys):
    deployment = dev.named("mi-uai-dev-blue")
    old = state(deployment)
    new = state(deployment)
    new["inputs"]["sku"]["capacity"] = 3
    step = {
        "op": "update",
        "urn": deployment.urn,
        "oldState": old,
        "newState": new,
        "diffReasons": ["sku"],
        "detailedDiff": {"sku.capacity": {"kind": "update", "inputDiff": True}},
    }
    same = {
        "op": "same",
        "urn": dev.named("data-account").urn,
        "oldState": state(dev.named("data-account")),
        "newState": state(dev.named("data-account")),
        "detailedDiff": None,
    }
    code, out, _ = run(guard, digest(step, same, summary={"update": 1, "same": 1}), tmp_path, capsys)
    assert code == 0
    assert out.index("same: 1, update: 1") < out.index("mi-uai-dev-blue")  # summary first
    assert "- `update` `azure-native:machinelearningservices:OnlineDeployment` `mi-uai-dev-blue`" in out
    assert "  - `sku.capacity`: `1` → `3`" in out
    assert "data-account" not in out  # only changed resources


def test_guard_warns_when_a_deployment_serving_the_endpoints_live_traffic_changes_environment(dev, tmp_path, capsys):
    """A real preview as an event stream: the live split is in the endpoint's state as Azure reported it."""
    endpoint, deployment = dev.named("mi-uai-dev-endpoint"), dev.named("mi-uai-dev-blue")
    live = state(endpoint)
    live["outputs"].setdefault("properties", {})["traffic"] = {"blue": 100}
    old, new = state(deployment), state(deployment)
    new["inputs"]["properties"]["environmentId"] = old["inputs"]["properties"]["environmentId"].replace("/versions/", "/versions/9")
    changed = {"op": "update", "urn": deployment.urn, "type": deployment.type, "old": old, "new": new}
    changed["detailedDiff"] = {"properties.environmentId": {"diffKind": "update", "inputDiff": True}}
    same = {"op": "same", "urn": endpoint.urn, "type": endpoint.type, "old": live, "new": live}
    stream = events(("resourcePreEvent", same), ("resourcePreEvent", changed), ("resOutputsEvent", changed))
    code, out, _ = run(guard, stream, tmp_path, capsys)
    assert code == 0
    (warning,) = [line for line in out.splitlines() if "would change in place" in line]
    assert warning.startswith("- `mi-uai-dev-blue`: deployment `blue` takes 100 % of `mi-uai-dev`'s traffic and its environment")

    live["outputs"]["properties"]["traffic"] = {"blue": 0}
    code, out, _ = run(guard, events(("resourcePreEvent", same), ("resourcePreEvent", changed)), tmp_path, capsys)
    assert code == 0 and "would change in place" not in out


def test_guard_refuses_an_identity_change(dev, tmp_path, capsys):
    endpoint = dev.named("mi-uai-dev-endpoint")
    new = state(endpoint)
    new["inputs"]["identity"] = {"type": "SystemAssigned"}
    steps = [
        {
            "op": "create-replacement",
            "urn": endpoint.urn,
            "oldState": state(endpoint),
            "newState": new,
            "replaceReasons": ["identity"],
            "detailedDiff": {
                "identity.type": {"kind": "update-replace", "inputDiff": True},
                "identity.userAssignedIdentities": {"kind": "delete-replace", "inputDiff": True},
            },
        },
        {
            "op": "replace",
            "urn": endpoint.urn,
            "oldState": state(endpoint),
            "newState": new,
            "replaceReasons": ["identity"],
            "detailedDiff": {"identity.type": {"kind": "update-replace", "inputDiff": True}},
        },
        {"op": "delete-replaced", "urn": endpoint.urn, "oldState": state(endpoint), "detailedDiff": None},
    ]
    code, out, _ = run(guard, digest(*steps), tmp_path, capsys)
    assert code == 2
    assert "`mi-uai-dev-endpoint`: the endpoint's identity would change; Azure cannot change it." in out
    assert "`mi-uai-dev-endpoint`: the endpoint would be replaced (create-replacement)" in out
    assert out.count("identity would change") == 1  # said once for the replacement's three steps
    assert out.count("would be replaced") == 1
    assert '`identity.type`: `"UserAssigned"` → `"SystemAssigned"`' in out
    assert "**(replacement)**" in out and "replaced because of: `identity`" in out


def test_guard_refuses_deleting_an_endpoint_or_a_protected_resource(dev, tmp_path, capsys):
    endpoint = dev.named("mi-uai-dev-endpoint")
    uai = dev.named("mi-uai-dev-identity")
    steps = [
        {"op": "delete", "urn": endpoint.urn, "oldState": state(endpoint)},
        {"op": "delete", "urn": uai.urn, "oldState": state(uai, protect=True)},
    ]
    code, out, _ = run(guard, digest(*steps), tmp_path, capsys)
    assert code == 2
    assert "`mi-uai-dev-endpoint`: the endpoint would be deleted" in out
    assert "`mi-uai-dev-identity`: a protected resource would be deleted (delete)." in out


def test_guard_shows_secrets_as_secrets(dev, tmp_path, capsys):
    deployment = dev.named("mi-uai-dev-blue")
    old, new = state(deployment), state(deployment)
    old["inputs"]["properties"]["environmentVariables"]["TOKEN"] = SECRET
    new["inputs"]["properties"]["environmentVariables"]["TOKEN"] = dict(SECRET, ciphertext="v1:def")
    step = {
        "op": "update",
        "urn": deployment.urn,
        "oldState": old,
        "newState": new,
        "detailedDiff": {"properties.environmentVariables.TOKEN": {"kind": "update", "inputDiff": True}},
    }
    code, out, _ = run(guard, digest(step), tmp_path, capsys)
    assert code == 0 and "`properties.environmentVariables.TOKEN`: [secret] → [secret]" in out and "v1:" not in out


def test_guard_reads_the_event_stream_too(dev, tmp_path, capsys):
    endpoint = dev.named("mi-uai-dev-endpoint")
    metadata = {
        "op": "delete",
        "urn": endpoint.urn,
        "type": endpoint.type,
        "old": state(endpoint),
        "new": None,
        "detailedDiff": None,
        "provider": "",
    }
    code, out, _ = run(guard, events(("resourcePreEvent", metadata)), tmp_path, capsys)
    assert code == 2 and "the endpoint would be deleted" in out


@pytest.mark.parametrize("text", ["", "not json", '{"unrelated": true}', "[1, 2]", '{"sequence": 1}\nnot json\n'])
def test_guard_refuses_unusable_input(text, tmp_path, capsys):
    code, _, err = run(guard, text, tmp_path, capsys)
    assert code == 1 and err.startswith("error:")


# --- drift ----------------------------------------------------------------------------------------------------------


def test_drift_from_a_preview_refresh_digest_reports_the_engines_differences(dev, tmp_path, capsys):
    """A `preview --refresh` digest: refresh pre-events, then the program's steps against the refreshed state."""
    account, container, blob = dev.named("data-account"), dev.named("data-container"), dev.named("data-hello.txt")
    refreshed = state(account)
    refreshed["outputs"]["tags"]["owner"] = "someone-else"
    refreshed["inputs"]["tags"]["owner"] = "someone-else"
    planned = state(account, outputs={})  # a planned update: the program's inputs, outputs not known yet
    steps = [{"op": "refresh", "urn": r.urn, "oldState": state(r), "newState": state(r)} for r in (account, container, blob)] + [
        {
            "op": "update",
            "urn": account.urn,
            "oldState": refreshed,
            "newState": planned,
            "detailedDiff": {"tags.owner": {"kind": "update", "inputDiff": True}},
        },
        {"op": "same", "urn": container.urn, "oldState": state(container), "newState": state(container)},
        {"op": "create", "urn": blob.urn, "newState": state(blob)},  # refreshed away, the program re-creates it
    ]
    code, out, _ = run(drift, digest(*steps), tmp_path, capsys, "--stack", "dev")
    assert code == 2
    assert out.startswith("## Drift report: `dev`")
    assert "differences between Azure (as refreshed) and what the program declares" in out.replace("difference below is", "differences")
    assert '  - `tags.owner`: `"someone-else"` → `"ml-platform"` (update)' in out
    assert "(absent)" not in out  # outputs the planned state does not know yet are not differences
    assert "### Deleted outside Pulumi" in out and "`data-hello.txt`" in out
    assert "data-container" not in out
    assert "pulumi up --refresh" in out


def test_drift_from_the_event_stream_with_a_deletion_and_identity_drift(dev, tmp_path, capsys):
    endpoint = dev.named("mi-uai-dev-endpoint")
    uai = dev.named("mi-uai-dev-identity")
    blob = dev.named("data-hello.txt")
    drifted = state(endpoint)
    drifted["outputs"]["identity"] = {"type": "SystemAssigned", "principalId": "0000", "tenantId": "t"}

    def meta(r, old, new):
        return {"op": "refresh", "urn": r.urn, "type": r.type, "old": old, "new": new, "provider": "p", "unknownField": 1}

    text = events(
        ("resourcePreEvent", meta(endpoint, state(endpoint), state(endpoint))),
        ("resOutputsEvent", dict(meta(endpoint, state(endpoint), drifted), op="update")),  # a refresh's result arrives here
        ("resourcePreEvent", meta(blob, state(blob), state(blob))),
        ("resOutputsEvent", dict(meta(blob, state(blob), None), op="delete")),  # gone in Azure
        ("resourcePreEvent", meta(uai, state(uai), state(uai))),
        ("resOutputsEvent", dict(meta(uai, state(uai), state(uai)), op="same")),  # unchanged
        ("someFutureEvent", {"op": "frobnicate", "urn": "x"}),
    )
    code, out, _ = run(drift, text, tmp_path, capsys)
    assert code == 2
    assert "2 resource(s) drifted: 1 changed, 1 deleted outside Pulumi." in out
    assert "### Critical" in out and "**`mi-uai-dev-endpoint`**" in out and "identity changed outside Pulumi" in out
    assert '  - `identity.type`: `"UserAssigned"` → `"SystemAssigned"`' in out
    assert "### Deleted outside Pulumi" in out and "- `data-hello.txt` (`azure-native:storage:Blob`)" in out
    assert "mi-uai-dev-identity" not in out


def test_no_drift_when_only_noise_or_secrets_differ(dev, tmp_path, capsys):
    endpoint = dev.named("mi-uai-dev-endpoint")
    old, new = state(endpoint), state(endpoint)
    old["outputs"]["properties"]["provisioningState"] = "Updating"
    old["outputs"]["properties"]["traffic"] = {"blue": 100}  # owned by the traffic template
    new["outputs"]["properties"]["traffic"] = {"blue": 90}
    old["outputs"]["properties"]["keys"] = SECRET
    new["outputs"]["properties"]["keys"] = dict(SECRET, ciphertext="v1:rotated")
    code, out, _ = run(drift, refresh_events((endpoint, old, new, "update")), tmp_path, capsys)
    assert code == 0 and "No drift" in out


def test_ignore_file_is_configurable(dev, tmp_path, capsys):
    account = dev.named("data-account")
    actual = state(account)
    actual["outputs"]["tags"]["owner"] = "x"
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text("azure-native:storage:StorageAccount:\n  - tags\n")
    text = refresh_events((account, state(account), actual, "update"))
    code, _, _ = run(drift, text, tmp_path, capsys, "--ignore", str(ignore))
    assert code == 0
    code, _, _ = run(drift, text, tmp_path, capsys)
    assert code == 2


@pytest.mark.parametrize("text", ["", "{", '{"steps": 3, "unrelated": 1}x', '{"hello": "world"}'])
def test_drift_refuses_unusable_input(text, tmp_path, capsys):
    code, _, err = run(drift, text, tmp_path, capsys)
    assert code == 1 and err.startswith("error:")


def test_paths(tmp_path):
    assert parse_path('properties.traffic["blue-2"].x[3]') == ["properties", "traffic", "blue-2", "x", 3]
    (tmp_path / "blank.json").write_text("   ")
    with pytest.raises(UnusableInput):
        load(tmp_path / "blank.json")
