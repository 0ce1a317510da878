"""azureml_endpoints.cli.guard and azureml_endpoints.cli.drift over real documents from pulumi/pulumi (tests/data/README.md) and hostile input."""

import codecs
import json
import random

import pytest

from azureml_endpoints.cli import baseline, drift, guard
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.pulumi_json import SECRET_SIG, SECRET_VALUE_SIG, UNKNOWN_VALUE, Document, code_span, render_pair

DATA = REPO / "tests" / "data" / "pulumi"
SECRET = {SECRET_SIG: SECRET_VALUE_SIG, "ciphertext": "v1:abc"}


def run(tool, path, capsys, *extra):
    code = tool.main([str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_text(tool, data, tmp_path, capsys, *extra):
    path = tmp_path / "input.json"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return run(tool, path, capsys, *extra)


def assert_one_line_error(code, out, err):
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err


def as_digest(stream_text: str) -> str:
    """A preview digest from an event stream, by the CLI's rule (pkg/backend/display/json.go, ShowPreviewDigest)."""

    def blind(value):
        if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return "[secret]"
        if isinstance(value, dict):
            return {k: blind(v) for k, v in value.items()}
        if isinstance(value, list):
            return [blind(v) for v in value]
        return value

    digest = {"config": {}, "steps": [], "diagnostics": [], "changeSummary": {}}
    for line in stream_text.splitlines():
        event = json.loads(line)
        if "resourcePreEvent" in event:
            m = event["resourcePreEvent"]["metadata"]
            step = {
                "op": m["op"],
                "urn": m["urn"],
                "provider": m.get("provider", ""),
                "diffReasons": m.get("diffs"),
                "replaceReasons": m.get("keys"),
            }
            if m.get("detailedDiff") is not None:
                step["detailedDiff"] = {k: {"kind": v["diffKind"], "inputDiff": v["inputDiff"]} for k, v in m["detailedDiff"].items()}
            for side, key in (("old", "oldState"), ("new", "newState")):
                if m.get(side):
                    step[key] = blind(m[side])
            digest["steps"].append(step)
        elif "diagnosticEvent" in event:
            d = event["diagnosticEvent"]
            digest["diagnostics"].append({"urn": d.get("urn", ""), "message": d["prefix"] + d["message"], "severity": d["severity"]})
        elif "summaryEvent" in event:
            digest["changeSummary"] = event["summaryEvent"]["resourceChanges"]
    return json.dumps(digest, indent=4)


# --- real documents -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["events", "digest"])
def test_guard_on_a_real_replacement(shape, tmp_path, capsys):
    text = (DATA / "display-webserver-userdata.json").read_text()
    code, out, err = run_text(guard, text if shape == "events" else as_digest(text), tmp_path, capsys)
    assert code == 0, err  # not an endpoint: listed, not blocked
    assert "`web-server-www` **(replacement)**" in out and "replaced because of: `userData`" in out
    assert "Hello, World!" in out and "Hello, Pulumi!" in out


def test_guard_long_strings_show_where_they_differ(capsys):
    code, out, _ = run(guard, DATA / "display-template-body.json", capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if "MaxSize" in line)
    old, new = line.split(" → ")
    assert "MaxSize: 2" in old and "MaxSize: 3" in new  # the change is visible, not cut away
    left, right = render_pair("x" * 500 + "a" + "y" * 500, "x" * 500 + "b" + "y" * 500)
    assert left != right and len(left) < 140


def test_guard_shows_unknowns_as_known_after_apply(capsys):
    code, out, _ = run(guard, DATA / "lifecycle-TestComputedCanBeDropped.jsonl", capsys)
    assert code == 0
    assert '`zed`: `"grr"` → known after apply' in out and UNKNOWN_VALUE not in out


def test_guard_and_drift_refuse_a_failed_preview(tmp_path, capsys):
    path = DATA / "lifecycle-TestAliasURNs-urn-fail-duplicate-0-0-preview.jsonl"
    code, out, err = run(guard, path, capsys)
    assert_one_line_error(code, out, err)
    assert "the preview failed: error: Duplicate resource alias" in err and "{%" not in err
    code, out, err = run_text(guard, as_digest(path.read_text()), tmp_path, capsys)  # as a digest: no steps, an error
    assert_one_line_error(code, out, err)
    assert "the preview failed" in err


def test_guard_never_prints_secrets(capsys):
    code, out, _ = run(guard, DATA / "display-failed-stacks-dont-rewrite-operations.json", capsys)
    assert code == 0 and "ciphertext" not in out and SECRET_VALUE_SIG not in out


def test_drift_reports_what_the_refresh_found(capsys):
    code, out, err = run(drift, DATA / "lifecycle-TestRefreshBasics-all-0-0-preview.jsonl", capsys)
    assert code == 2, err
    assert "2 resource(s) drifted: 1 changed, 1 deleted outside Pulumi." in out  # resC twice in the stream: once
    assert '- `resA` (`pkgA:m:typA`)\n  - `baz`: (absent) → `"qux"`' in out
    assert "- `resC` (`pkgA:m:typA`)" in out.split("### Deleted outside Pulumi")[1]
    assert "resB" not in out  # refreshed: same


def test_drift_found_by_any_refresh_of_a_urn_is_reported(capsys):
    """pulumi/pulumi TestRefreshBasics/0-0-0-preview: resA is refreshed three times (itself and two pending-delete
    copies, ids 1, 3, 4); their pre-events come before the results, and only id 4's refresh found `oof` added."""
    code, out, err = run(drift, DATA / "lifecycle-TestRefreshBasics-0-0-0-preview.jsonl", capsys)
    assert code == 2, out + err
    assert "1 resource(s) drifted: 1 changed, 0 deleted outside Pulumi." in out
    assert "- `resA` (`pkgA:m:typA`)" in out and '  - `oof`: (absent) → `"zab"`' in out


def test_drift_ignores_the_programs_planned_steps_in_a_preview_refresh_stream(capsys):
    code, out, _ = run(drift, DATA / "lifecycle-TestPreviewRefreshWithProgram-1.jsonl", capsys)
    assert code == 2
    assert '`foo`: `"bar"` → `"baz"`' in out  # what Azure changed
    assert out.count("`resA`") == 1  # the planned update of resA is not a second drift


@pytest.mark.parametrize("name", ["display-up.json", "display-webserver-userdata.json", "lifecycle-TestComputedCanBeDropped.jsonl"])
def test_drift_refuses_a_document_without_a_refresh(name, tmp_path, capsys):
    code, out, err = run(drift, DATA / name, capsys)
    assert_one_line_error(code, out, err)
    assert "holds no refresh" in err
    code, out, err = run_text(drift, as_digest((DATA / name).read_text()), tmp_path, capsys)  # a plain preview digest
    assert_one_line_error(code, out, err)


def test_drift_refuses_a_refresh_only_digest_which_holds_no_results(tmp_path, capsys):
    """`pulumi refresh --preview-only --json` without streaming: the CLI's digest keeps only the refresh pre-events."""
    text = as_digest((DATA / "lifecycle-TestRefreshBasics-all-0-0-preview.jsonl").read_text())
    code, out, err = run_text(drift, text, tmp_path, capsys)
    assert_one_line_error(code, out, err)
    assert "PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true" in err


def test_bytes_are_not_taken_for_secrets(capsys):
    code, out, _ = run(guard, DATA / "lifecycle-TestResourceHookByteString--0-0-preview.jsonl", capsys)
    assert code == 0 and "`resA`" in out


# --- hostile input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_windows_encodings_read_like_utf8(encoding, tmp_path, capsys):
    text = (DATA / "lifecycle-TestRefreshBasics-all-0-0-preview.jsonl").read_text()
    expected = run_text(drift, text, tmp_path, capsys)
    assert run_text(drift, text.encode(encoding), tmp_path, capsys) == expected  # PowerShell 5.1's `>` is utf-16


def _deep(depth):
    nested = "[" * depth + "]" * depth
    return (
        '{"steps": [{"op": "update", "urn": "u", "detailedDiff": {"a": {"kind": "update"}}, "newState": {"type": "t", "inputs": {"a": '
        + nested
        + "}}}]}"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02\xff\xfe binary",
        bytes(random.Random(7).getrandbits(8) for _ in range(4096)),
        b'{"steps": [{"op": "update", "urn": "\xff\xfe\xfd"}]}',
        "[" * 100_000 + "]" * 100_000,
        _deep(5000),
        _deep(150),
        '{"steps": [1]}',
        '{"steps": [{"op": 5, "urn": "u"}]}',
        '{"steps": [{"op": "update", "urn": "u", "detailedDiff": ["a"]}]}',
        '{"steps": [{"op": "update", "urn": "u", "oldState": "x"}]}',
        '{"steps": [{"op": "update", "urn": "u", "newState": {"inputs": []}}]}',
        '{"steps": [], "changeSummary": {"update": NaN}}',
        '{"steps": [], "changeSummary": {"update": true}}',
        '{"steps": [], "changeSummary": {"update": Infinity}}',
        '{"steps": [], "diagnostics": {"severity": "error"}}',
        '{"steps": [{"op": "update", "urn": "u"}',
        '{"steps": []} trailing',
        '{"sequence": 1, "resourcePreEvent": []}',
        '{"sequence": 1, "resourcePreEvent": {"metadata": {"op": "update", "urn": ["u"]}}}',
        '{"sequence": 1, "summaryEvent": {"resourceChanges": {"same": -1}}}',
        '{"sequence": 1, "diagnosticEvent": {"severity": 3}}',
        '"just a string"',
        "null",
    ],
)
@pytest.mark.parametrize("tool", [guard, drift])
def test_hostile_input_exits_1_with_one_line(tool, data, tmp_path, capsys):
    assert_one_line_error(*run_text(tool, data, tmp_path, capsys))


def test_a_directory_or_missing_file_is_one_line(tmp_path, capsys):
    for tool in (guard, drift, baseline):
        assert_one_line_error(*run(tool, tmp_path, capsys, *(["--stack", "dev"] if tool is baseline else [])))
        assert_one_line_error(*run(tool, tmp_path / "missing.json", capsys, *(["--stack", "dev"] if tool is baseline else [])))


def test_streamed_document_spans_many_chunks(tmp_path):
    steps = [
        {
            "op": "update",
            "urn": f"urn:pulumi:s::p::t:m:T::r{i}",
            "newState": {"type": "t:m:T", "inputs": {"x": "y" * 3000}},
            "detailedDiff": {"x": {"kind": "update"}},
        }
        for i in range(1000)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"config": {}, "steps": steps, "changeSummary": {"update": 1000}}, indent=4))
    document = Document(path)
    assert sum(1 for _ in document.steps()) == 1000 and document.change_summary == {"update": 1000}


# --- Markdown safety (review W10) and nested secrets (review P3) ------------------------------------------------


def test_code_span_escapes_backticks():
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("line\nbreak") == "`line break`"


def _refresh_stream(old_outputs, new_outputs, name="acct", type_="azure-native:storage:StorageAccount"):
    urn = f"urn:pulumi:dev::azureml-endpoints::{type_}::{name}"
    old = {"urn": urn, "type": type_, "custom": True, "inputs": {}, "outputs": old_outputs}
    new = dict(old, outputs=new_outputs)
    lines = [
        {"resourcePreEvent": {"metadata": {"op": "refresh", "urn": urn, "type": type_, "old": old, "new": old}}},
        {"resOutputsEvent": {"metadata": {"op": "update", "urn": urn, "type": type_, "old": old, "new": new}}},
    ]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def test_drift_values_cannot_inject_markdown(tmp_path, capsys):
    hostile = "x` @octo-org/admins [click](https://example.com) <img src=x>"
    code, out, _ = run_text(drift, _refresh_stream({"tags": {"owner": "a"}}, {"tags": {"owner": hostile}}, name="a`b"), tmp_path, capsys)
    assert code == 2
    line = next(line for line in out.splitlines() if "tags.owner" in line)
    assert line == '  - `tags.owner`: `"a"` → ``' + json.dumps(hostile) + "``"
    assert "- ``a`b`` (`azure-native:storage:StorageAccount`)" in out


def test_secrets_nested_in_a_changed_value_are_masked(tmp_path, capsys):
    old = {"nested": [{"s": SECRET, "plaintext": "NESTED-OLD"}]}
    new = {"nested": [{"s": dict(SECRET, ciphertext="v1:x")}, {"plaintext": "NESTED-NEW", "deeper": {"k": [SECRET]}}]}
    code, out, _ = run_text(drift, _refresh_stream(old, new), tmp_path, capsys)
    assert code == 2 and "[secret]" in out
    assert "v1:" not in out and "ciphertext" not in out and SECRET_VALUE_SIG not in out
    urn = "urn:pulumi:dev::azureml-endpoints::azure-native:storage:StorageAccount::acct"
    step = {
        "op": "update",
        "urn": urn,
        "oldState": {"type": "t", "inputs": old},
        "newState": {"type": "t", "inputs": new},
        "detailedDiff": {"nested": {"kind": "update"}},
    }
    code, out, _ = run_text(guard, json.dumps({"steps": [step]}), tmp_path, capsys)
    assert code == 0 and "[secret]" in out and "v1:" not in out and "ciphertext" not in out


def test_output_only_properties_are_not_absent_on_both_sides(tmp_path, capsys):
    urn = "urn:pulumi:dev::azureml-endpoints::azure-native:storage:StorageAccount::acct"
    step = {
        "op": "update",
        "urn": urn,
        "oldState": {"type": "t", "inputs": {}, "outputs": {"primaryEndpoints": {"blob": "old"}}},
        "newState": {"type": "t", "inputs": {}, "outputs": {}},
        "diffReasons": ["primaryEndpoints", "statusOfPrimary"],
    }
    code, out, _ = run_text(guard, json.dumps({"steps": [step]}), tmp_path, capsys)
    assert code == 0 and "(absent) → (absent)" not in out
    assert '`primaryEndpoints`: `{"blob": "old"}` (output-only: Azure sets the new value)' in out and "→ (absent)" not in out
    assert "`statusOfPrimary`: update (the preview does not show the value)" in out


def test_an_output_only_version_is_not_shown_as_removed(tmp_path, capsys):
    urn = "urn:pulumi:dev::azureml-endpoints::azure-native:machinelearningservices:ModelVersion::m"
    step = {
        "op": "update",
        "urn": urn,
        "oldState": {"type": "t", "inputs": {"name": "m", "removed": "x"}, "outputs": {"name": "m", "version": 2, "removed": "x"}},
        "newState": {"type": "t", "inputs": {"name": "m"}, "outputs": {}},
        "detailedDiff": {"version": {"kind": "update"}, "removed": {"kind": "delete"}},
    }
    code, out, _ = run_text(guard, json.dumps({"steps": [step]}), tmp_path, capsys)
    assert code == 0 and "`version`: `2` (output-only: Azure sets the new value)" in out, out
    assert '`removed`: `"x"` → (absent)' in out  # an input the stack drops is still shown as removed


# --- baseline -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        '{"version": 3, "deployment": {"resources": [1]}}',
        '{"version": 3, "deployment": {"resources": [{"type": "azure-native:machinelearningservices:OnlineEndpoint", "inputs": [], "outputs": {}}]}}',
        '{"version": 3, "deployment": {"resources": [{"type": "azure-native:machinelearningservices:OnlineEndpoint", "outputs": {"identity": "x"}}]}}',
        '{"version": 3, "deployment": {"resources": [{"type": "azure-native:machinelearningservices:OnlineEndpoint", "outputs": {"identity": {"type": "UserAssigned", "userAssignedIdentities": [1]}}}]}}',
        '{"version": 3, "deployment": {"resources": {}}}',
        '{"version": 3}',
        '{"version": 3, "deployment": {"resources": []}, "x": NaN}',
        "[" * 100_000,
        b"\xff\xfe\x00\xd8",
        '{"version": 3, "deployment": {"resources": [{"type": "azure-native:machinelearningservices:OnlineEndpoint", "outputs": {}}]}}',
        '{"version": 3, "deployment": {"resources": [{"type": "azure-native:machinelearningservices:Workspace", "inputs": {"resourceGroupName": "rg", "workspaceName": 5}}]}}',
    ],
)
def test_baseline_refuses_odd_exports_with_one_line(data, tmp_path, capsys):
    assert_one_line_error(*run_text(baseline, data, tmp_path, capsys, "--stack", "dev"))


def test_baseline_reads_a_utf16_export(tmp_path, capsys, dev):
    from tests.support.policies import stack_export

    text = json.dumps(stack_export(dev.registrations))
    code, out, _ = run_text(baseline, text.encode("utf-16"), tmp_path, capsys, "--stack", "dev")
    assert code == 0 and json.loads(out)["endpoint-identity-baseline"]["endpoints"]
    assert run_text(baseline, text, tmp_path, capsys, "--stack", "dev")[1] == out


def test_utf16_without_bom(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(codecs.encode('{"steps": [], "changeSummary": {"same": 1}}', "utf-16-le"))
    document = Document(path)
    assert list(document.steps()) == [] and document.change_summary == {"same": 1}


def test_the_memory_benchmark_measures_real_work(tmp_path, capsys):
    """benchmarks.bench_json's documents are read in full: every generated resource is reported."""
    from benchmarks.bench_json import write_digest, write_events

    digest, events = tmp_path / "d.json", tmp_path / "e.jsonl"
    steps = write_digest(digest, 1)
    write_events(events, 1)
    code, out, _ = run(drift, digest, capsys)
    assert code == 2 and out.count('`tags.owner`: `"someone-else"` → `"ml-platform"` (update)') == steps // 2
    code, out, _ = run(drift, events, capsys)
    assert code == 2 and out.count('`tags.owner`: `"ml-platform"` → `"someone-else"`') > 50
    code, out, _ = run(guard, digest, capsys)
    assert code == 0 and out.count("- `update`") == steps // 2


def test_a_planned_delete_in_a_refresh_stream_is_not_drift(tmp_path, capsys):
    type_ = "azure-native:machinelearningservices:OnlineEndpoint"
    urn = f"urn:pulumi:prod::azureml-endpoints::{type_}::ep"
    state = {"urn": urn, "type": type_, "custom": True, "inputs": {}, "outputs": {"identity": {"type": "SystemAssigned"}}}
    lines = [
        {"resourcePreEvent": {"metadata": {"op": "refresh", "urn": urn, "type": type_, "old": state, "new": state}}},
        {"resOutputsEvent": {"metadata": {"op": "same", "urn": urn, "type": type_, "old": state, "new": state}}},
        {"resourcePreEvent": {"metadata": {"op": "delete", "urn": urn, "type": type_, "old": state, "new": None}}},
        {"resOutputsEvent": {"metadata": {"op": "delete", "urn": urn, "type": type_, "old": state, "new": None}}},
    ]
    code, out, _ = run_text(drift, "\n".join(json.dumps(line) for line in lines), tmp_path, capsys)
    assert code == 0 and "No drift" in out and "Critical" not in out
