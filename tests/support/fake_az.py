"""A fake `az` for the rollout's fault tests: it holds an endpoint's split as ARM would and plays scripted answers.

Run as `az` (a wrapper on the test's PATH execs it). Its state is one JSON file (FAKE_AZ_STATE):
`traffic`/`mirror` (what "Azure" holds), `calls` (every argv it was given), and `script`: per call kind
(account, location, endpoint, deploy, metrics) a queue of behaviours, the first popped at each call:

- `stdout`/`stderr`/`rc`: answer this instead of the normal answer;
- `apply` (deploy): whether the template's split takes effect (default: when rc is 0), as ARM finishes a
  deployment whose client was killed;
- `signal`: after applying, send SIGINT/SIGTERM/SIGKILL to the caller, then hang (the caller is interrupted
  mid-call), or answer after `linger` seconds;
- `hang`: never answer (the caller's timeout must stop it);
- `points`: per-minute figures for the metrics answer (`latency`, `requests`, `errors`), or `raw` to put one
  JSON value as the first point's average, or `drop_last`/`zero_last` minutes (late ingestion,
  Azure/azure-libraries-for-net#499).

Normal answers have the shapes `az ... -o json` prints: account show, resource show, deployment group create,
and Azure Monitor's "Metrics - List" response (as tests/data/rollout holds them).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"


def kind(argv: list[str]) -> str:
    verb = argv[:2]
    if verb == ["account", "show"]:
        return "account"
    if verb == ["resource", "show"]:
        return "endpoint" if "--api-version" in argv else "location"
    if verb == ["deployment", "group"]:
        return "deploy"
    if verb == ["monitor", "metrics"]:
        return "metrics"
    raise SystemExit(f"fake az: unexpected call {argv}")


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def metrics_answer(argv: list[str], points: dict) -> dict:
    metric = option(argv, "--metrics")
    start, end = (datetime.fromisoformat(option(argv, o)) for o in ("--start-time", "--end-time"))
    minutes = [start + timedelta(minutes=i) for i in range(int((end - start).total_seconds() // 60))]
    minutes = minutes[: len(minutes) - points.get("drop_last", 0)]
    zeroed = set(minutes[len(minutes) - points.get("zero_last", 0) :]) if points.get("zero_last") else set()

    def data(value_of):
        rows = [{"timeStamp": m.strftime("%Y-%m-%dT%H:%M:%SZ"), "average": 0 if m in zeroed else value_of(m)} for m in minutes]
        if "raw" in points and rows:
            rows[0]["average"] = points["raw"]
        return rows

    def series(value_of, **dimensions):
        meta = [{"name": {"value": k, "localizedValue": k}, "value": v} for k, v in dimensions.items()]
        return {"metadatavalues": meta, "data": data(value_of)}

    if metric == "RequestLatency":
        timeseries = [series(lambda m: points.get("latency", 41), deployment="green")]
    else:
        errors = points.get("errors", 0)
        timeseries = [series(lambda m: points.get("requests", 60) - errors, deployment="green", statusCodeClass="2xx")]
        if errors:
            timeseries.append(series(lambda m: errors, deployment="green", statusCodeClass="5xx"))
    return {
        "cost": len(minutes),
        "interval": "PT1M",
        "value": [{"type": "Microsoft.Insights/metrics", "name": {"value": metric, "localizedValue": metric}, "timeseries": timeseries}],
    }


def main(argv: list[str]) -> int:
    path = Path(os.environ["FAKE_AZ_STATE"])
    state = json.loads(path.read_text())
    call = kind(argv)
    queue = state["script"].get(call) or []
    behaviour = (queue.pop(0) if queue else None) or {}
    state["calls"].append(argv)
    rc = behaviour.get("rc", 0)
    if call == "account":
        answer: object = {"id": SUBSCRIPTION_ID, "name": "fake", "state": "Enabled"}
    elif call == "location":
        answer = {"location": "westeurope"}
    elif call == "endpoint":
        answer = {"id": option(argv, "--ids"), "properties": {"traffic": state["traffic"], "mirrorTraffic": state["mirror"]}}
    elif call == "deploy":
        properties = json.loads(Path(option(argv, "--template-file")).read_text())["resources"][0]["properties"]
        if behaviour.get("apply", rc == 0):
            state["traffic"], state["mirror"] = properties["traffic"], properties["mirrorTraffic"]
            state["deployed"].append(properties["traffic"])
        answer = {"name": option(argv, "--name"), "properties": {"provisioningState": "Succeeded"}}
    else:
        answer = metrics_answer(argv, behaviour.get("points", {}))
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)
    if "signal" in behaviour:
        os.kill(os.getppid(), getattr(signal, behaviour["signal"]))
        time.sleep(behaviour.get("linger", 600))
    if behaviour.get("hang"):
        time.sleep(600)
    sys.stdout.write(behaviour["stdout"] if "stdout" in behaviour else json.dumps(answer))
    sys.stderr.write(behaviour.get("stderr", ""))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
