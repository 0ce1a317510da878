"""The rollout under faults: a fake `az` on PATH (tests/support/fake_az.py) holds the endpoint's split as ARM would
and plays hostile answers, hangs, 409/429/5xx, and kills at each step. Every case ends with the fake holding the
split the tool printed last ("Azure holds …") and the documented exit code (docs/progressive-rollout.md)."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from azureml_endpoints.cli import rollout
from azureml_endpoints.paths import REPO

FAKE = REPO / "tests" / "support" / "fake_az.py"
BEFORE = {"blue": 100, "green": 0}
BEFORE_MIRROR = {"green": 10}  # Pulumi.prod.yaml
DONE = {"blue": 0, "green": 100}
BAD_NUMBERS = ["NaN", "-1", "true", "Infinity", '"abc"']
# Fast: no bake or ingestion wait, no backoff; a hung az is stopped after 3 s.
FAST = ["--bake", "2m", "--ingestion-delay", "0s", "--retry-backoff", "0s", "--az-timeout", "3s", "--deploy-timeout", "3s"]
COMMAND = ["--stack", "prod", "--endpoint", "mi-uai-prod"]


class FakeAz:
    def __init__(self, folder: Path):
        self.folder = folder
        self.state_file = folder / "az-state.json"
        self.bin = folder / "bin"
        self.bin.mkdir()
        (self.bin / "az").write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "{FAKE}" "$@"\n')
        (self.bin / "az").chmod(0o755)
        self.write({"traffic": dict(BEFORE), "mirror": dict(BEFORE_MIRROR), "script": {}, "calls": [], "deployed": []})

    def write(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state))

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def script(self, **queues: list) -> None:
        state = self.state()
        state["script"] = queues
        self.write(state)

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", "FAKE_AZ_STATE": str(self.state_file)}

    def args(self, *extra: str) -> list[str]:
        return [*COMMAND, *extra, *FAST, "--state-dir", str(self.folder / "state")]


@pytest.fixture
def az(tmp_path, monkeypatch):
    fake = FakeAz(tmp_path)
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield fake
    for number, handler in handlers.items():
        signal.signal(number, handler)


def last_held(out: str) -> tuple[dict, dict] | None:
    lines = [line for line in out.splitlines() if line.startswith("Azure")]
    assert lines, out
    found = re.fullmatch(r"Azure holds traffic (\{.*\}), mirror (\{.*\}) \(read back from the endpoint\)", lines[-1])
    return (ast.literal_eval(found.group(1)), ast.literal_eval(found.group(2))) if found else None


def run(az: FakeAz, capsys, *extra: str) -> tuple[int, str]:
    code = rollout.main(az.args(*extra), clock=rollout.Clock(sleep=lambda seconds: None))
    out = capsys.readouterr().out
    return code, out


def assert_ends(az: FakeAz, out: str, traffic: dict, mirror: dict) -> None:
    """The fake holds `traffic`/`mirror`, and that is exactly what the tool printed last."""
    state = az.state()
    assert (state["traffic"], state["mirror"]) == (traffic, mirror)
    assert out.splitlines()[-1].startswith("Azure"), out
    assert last_held(out) == (traffic, mirror), out


def metrics_answer(value: str) -> str:
    """A one-point RequestLatency answer whose average is the raw JSON text `value`."""
    point = '{"timeStamp": "2026-11-23T21:10:00Z", "average": ' + value + "}"
    return '{"value": [{"name": {"value": "RequestLatency"}, "timeseries": [{"data": [' + point + "]}]}]}"


# --- nothing changed: Azure unreadable or hostile before any change (exit 1) ------------------------------------

BEFORE_ANY_CHANGE = {
    "account: not JSON": {"account": [{"stdout": "<html>502 Bad Gateway</html>"}]},
    "account: truncated": {"account": [{"stdout": '{"id": "0000'}]},
    "account: empty with exit 0": {"account": [{"stdout": ""}]},
    "account: []": {"account": [{"stdout": "[]"}]},
    "account: null": {"account": [{"stdout": "null"}]},
    "account: refused": {"account": [{"rc": 1, "stderr": "ERROR: Please run 'az login' to setup account."}]},
    "account: hangs": {"account": [{"hang": True}]},
    "location: null": {"location": [{"stdout": '{"location": null}'}]},
    "endpoint: truncated": {"endpoint": [{"stdout": '{"properties": {"traff'}]},
    "endpoint: traffic a list": {"endpoint": [{"stdout": '{"properties": {"traffic": [100]}}'}]},
    "endpoint: share text": {"endpoint": [{"stdout": '{"properties": {"traffic": {"blue": "abc"}}}'}]},
    "endpoint: share NaN": {"endpoint": [{"stdout": '{"properties": {"traffic": {"blue": NaN}}}'}]},
    "endpoint: share boolean": {"endpoint": [{"stdout": '{"properties": {"traffic": {"blue": true, "green": 0}}}'}]},
    "endpoint: shares sum to 90": {"endpoint": [{"stdout": '{"properties": {"traffic": {"blue": 90, "green": 0}}}'}]},
    "endpoint: hangs": {"endpoint": [{"hang": True}]},
}


@pytest.mark.parametrize("case", BEFORE_ANY_CHANGE)
def test_a_hostile_answer_before_any_change_changes_nothing_and_exits_1(az, capsys, case):
    az.script(**BEFORE_ANY_CHANGE[case])
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_UNCHANGED, out
    assert az.state()["deployed"] == [] and "Nothing changed." in out
    state = az.state()
    assert (state["traffic"], state["mirror"]) == (BEFORE, BEFORE_MIRROR)
    held = last_held(out)
    assert held in (None, (BEFORE, BEFORE_MIRROR)), out  # printed when it could be read


# --- a step fails: the split from before is restored, read back and printed (exit 2) ----------------------------

STEP_FAILURES = {
    "metrics: not JSON": {"metrics": [{"stdout": "Traceback (most recent call last):"}]},
    "metrics: truncated": {"metrics": [{"stdout": '{"value": [{"name": {"value": "Requ'}]},
    "metrics: empty with exit 0": {"metrics": [{"stdout": ""}]},
    "metrics: []": {"metrics": [{"stdout": "[]"}]},
    "metrics: null": {"metrics": [{"stdout": "null"}]},
    "metrics: value an object": {"metrics": [{"stdout": '{"value": {"name": "RequestLatency"}}'}]},
    "metrics: data an object": {
        "metrics": [{"stdout": '{"value": [{"name": {"value": "RequestLatency"}, "timeseries": [{"data": {}}]}]}'}]
    },
    "metrics: timeStamp not a time": {"metrics": [{"stdout": metrics_answer("1").replace("2026-11-23T21:10:00Z", "yesterday")}]},
    **{f"metrics: average {bad}": {"metrics": [{"stdout": metrics_answer(bad)}]} for bad in BAD_NUMBERS},
    **{f"metrics: request count {bad}": {"metrics": [None, {"points": {"raw": json.loads(bad)}}]} for bad in ("-1", "true", '"abc"')},
    "metrics: the last two minutes not ingested (missing)": {"metrics": [{"points": {"drop_last": 2}}]},
    "metrics: the last two minutes not ingested (0, #499)": {"metrics": [None, {"points": {"zero_last": 2}}]},
    "metrics: slow": {"metrics": [{"points": {"latency": 900}}]},
    "metrics: failing": {"metrics": [None, {"points": {"errors": 12}}]},
    "metrics: hangs": {"metrics": [{"hang": True}]},
    "metrics: refused": {"metrics": [{"rc": 1, "stderr": "ERROR: (AuthorizationFailed) The client does not have authorization"}]},
    "metrics: 503 every time": {"metrics": [{"rc": 1, "stderr": "ERROR: (ServiceUnavailable) The service is unavailable."}] * 5},
    "deploy: refused": {"deploy": [{"rc": 1, "stderr": 'ERROR: {"code": "InvalidTemplateDeployment", "message": "..."}'}]},
    "deploy: applied, answer not JSON": {"deploy": [{"stdout": "{'properties':"}]},
    "deploy: client killed, ARM finished it, restore meets DeploymentActive": {
        "deploy": [
            {"hang": True},
            {"rc": 1, "apply": False, "stderr": "ERROR: (DeploymentActive) The deployment 'traffic-mi-uai-prod' is active."},
        ]
    },
    "endpoint: read back as null": {"endpoint": [None, {"stdout": "null"}]},
    "endpoint: read back a different split": {"endpoint": [None, {"stdout": '{"properties": {"traffic": {"blue": 100, "green": 0}}}'}]},
}


@pytest.mark.parametrize("case", STEP_FAILURES)
def test_a_failed_step_restores_reads_back_and_exits_2(az, capsys, case):
    az.script(**STEP_FAILURES[case])
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_RESTORED, out
    assert_ends(az, out, BEFORE, BEFORE_MIRROR)
    assert "Restored {'blue': 100, 'green': 0}" in out
    assert not (az.folder / "state" / "prod.mi-uai-prod.json").exists()  # a known end: nothing to resume


@pytest.mark.parametrize(
    "case, script",
    [
        ("metrics throttled (429) twice", {"metrics": [{"rc": 1, "stderr": "ERROR: (TooManyRequests) Rate limit exceeded"}] * 2}),
        (
            "deploy: another operation in progress (409)",
            {"deploy": [{"rc": 1, "apply": False, "stderr": "ERROR: (Conflict) Operation in progress"}]},
        ),
        (
            "endpoint read: 500 once",
            {"endpoint": [None, {"rc": 1, "stderr": "ERROR: (InternalServerError) Encountered internal server error."}]},
        ),
    ],
)
def test_a_retryable_answer_is_asked_again_and_the_rollout_finishes(az, capsys, case, script):
    az.script(**script)
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_ROLLED_OUT, out
    assert_ends(az, out, DONE, {})  # the target is no longer mirrored: an explicit empty mirror
    assert "asking again" in out


def test_a_healthy_rollout_sends_an_explicit_empty_mirror(az, capsys):
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_ROLLED_OUT, out
    assert az.state()["deployed"] == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, DONE]
    assert_ends(az, out, DONE, {})


# --- the restore fails (exit 3): what Azure holds is printed, and a rerun can restore -----------------------------


def test_a_failed_restore_prints_what_azure_holds_and_a_rerun_restores(az, capsys):
    az.script(
        metrics=[{"points": {"latency": 900}}],
        deploy=[None, {"rc": 1, "apply": False, "stderr": "ERROR: (AuthorizationFailed) no write permission"}],
    )
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_RESTORE_FAILED, out
    assert_ends(az, out, {"blue": 90, "green": 10}, {})
    assert (az.folder / "state" / "prod.mi-uai-prod.json").exists()
    code, out = run(az, capsys, "--restore")
    assert code == rollout.EXIT_RESTORED, out
    assert_ends(az, out, BEFORE, BEFORE_MIRROR)


# --- interruptions: Ctrl-C and SIGTERM restore (exit 4); a signal during the restore waits for it ----------------


@pytest.mark.parametrize(
    "case, script",
    [
        ("SIGINT while the first step deploys", {"deploy": [{"signal": "SIGINT"}]}),
        ("SIGTERM while the second step deploys", {"deploy": [None, {"signal": "SIGTERM"}]}),
        ("SIGINT while the metrics are read", {"metrics": [{"signal": "SIGINT"}]}),
        ("SIGTERM while the split is read back", {"endpoint": [None, None, {"signal": "SIGTERM"}]}),
    ],
)
def test_an_interruption_restores_and_exits_4(az, capsys, case, script):
    az.script(**script)
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_INTERRUPTED, out
    assert_ends(az, out, BEFORE, BEFORE_MIRROR)


def test_a_signal_during_the_restore_lets_it_finish(az, capsys):
    az.script(metrics=[None, {"points": {"errors": 30}}], deploy=[None, {"signal": "SIGINT", "linger": 0.2}])
    code, out = run(az, capsys, "--to", "green")
    assert code == rollout.EXIT_RESTORED, out
    assert "SIGINT received: finishing the restore first" in out
    assert_ends(az, out, BEFORE, BEFORE_MIRROR)


# --- SIGKILL: nothing runs in the tool; a rerun continues, or --restore restores ----------------------------------


def command(az: FakeAz, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **az.env(), "AZUREML_ROLLOUT_SLEEP_SCALE": "0"}
    return subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.main", "rollout", *az.args(*extra)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize(
    "rerun, code, end",
    [(("--to", "green"), rollout.EXIT_ROLLED_OUT, (DONE, {})), (("--restore",), rollout.EXIT_RESTORED, (BEFORE, BEFORE_MIRROR))],
)
def test_after_a_sigkill_mid_step_a_rerun_continues_or_restores(az, rerun, code, end):
    az.script(deploy=[None, {"signal": "SIGKILL"}])
    killed = command(az, "--to", "green")
    assert killed.returncode == -signal.SIGKILL
    assert az.state()["traffic"] == {"blue": 50, "green": 50}  # ARM finished what the killed client started
    again = command(az, *rerun)
    assert again.returncode == code, again.stdout + again.stderr
    assert "Resuming the rollout" in again.stdout or rerun == ("--restore",)
    assert_ends(az, again.stdout, *end)
    if rerun == ("--to", "green"):  # it continued from the last split judged healthy, against the first baseline
        assert az.state()["deployed"] == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 50, "green": 50}, DONE]
