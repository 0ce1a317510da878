"""The progressive rollout: its decision against recorded metric series, its steps, its rollback, and that the
template it deploys is the one the program owns (so a rollout committed to the stack file drifts nowhere)."""

import copy
import json
import signal
from datetime import UTC, datetime, timedelta

import pytest

from azureml_endpoints.cli import drift, rollout
from azureml_endpoints.cli.rollout import RolloutError, Target, Thresholds, health_from_metrics, judge, plan, split_at
from azureml_endpoints.config.base import decode_config
from azureml_endpoints.config.stack import StackConfig, parse_settings
from azureml_endpoints.offline.arm_mocks import SUBSCRIPTION_ID
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import stack_config

DATA = REPO / "tests" / "data" / "rollout"
PROD_LIMITS = Thresholds(request_latency_ms=500, server_errors_per_minute=5)  # Pulumi.prod.yaml monitoring.alerts


RECORDED_WINDOW = tuple(datetime(2026, 11, 23, 21, 10, tzinfo=UTC) + timedelta(minutes=i) for i in range(10))  # their timespan


def recorded(case: str, minutes=RECORDED_WINDOW):
    return health_from_metrics(*(json.loads((DATA / case / f"{m}.json").read_text()) for m in ("latency", "requests")), minutes)


@pytest.mark.parametrize(
    "case, healthy, reason",
    [
        ("healthy", True, "healthy: average latency 41 ms, 0.10 5xx per minute (0.2%)"),
        ("slow", False, "slow: average latency 708 ms > 500 ms"),  # 7085 ms over 10 minutes
        ("failing", False, "failing: 12.30 5xx per minute (20.5% of requests) > 5"),  # 123 of 600
        ("missing", False, "unknown: no data for 10 of 10 minutes"),
    ],
)
def test_the_decision_on_recorded_series(case, healthy, reason):
    verdict = judge(recorded(case), PROD_LIMITS)
    assert verdict.healthy is healthy
    assert verdict.reason.startswith(reason), verdict.reason


def test_the_series_are_read_per_status_class():
    health = recorded("failing")
    assert len(health.latency_ms) == len(health.requests_per_minute) == len(health.server_errors_per_minute) == 10
    first = RECORDED_WINDOW[0]
    assert health.requests_per_minute[first] == 60 and health.server_errors_per_minute[first] == 12
    assert recorded("missing").latency_ms == {} and recorded("missing").requests_per_minute == {}


def test_a_minute_azure_monitor_has_not_ingested_reads_unknown_never_healthy():
    """Late points come back missing or as 0 (Azure/azure-libraries-for-net#499): with the healthy recording asked
    for a window one minute longer than it holds, or with its last minute zeroed, health is unknown."""
    longer = RECORDED_WINDOW + (RECORDED_WINDOW[-1] + timedelta(minutes=1),)
    verdict = judge(recorded("healthy", longer), PROD_LIMITS)
    assert not verdict.healthy and verdict.reason.startswith("unknown: no data for 1 of 11 minutes (21:20)"), verdict.reason
    requests = json.loads((DATA / "healthy" / "requests.json").read_text())
    for series in requests["value"][0]["timeseries"]:
        series["data"][-1]["average"] = 0
    latency = json.loads((DATA / "healthy" / "latency.json").read_text())
    verdict = judge(health_from_metrics(latency, requests, RECORDED_WINDOW), PROD_LIMITS)
    assert not verdict.healthy and "21:19" in verdict.reason


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, True, "41", [41], {"v": 1}])
def test_only_finite_non_negative_numbers_count_as_data(bad):
    latency = json.loads((DATA / "healthy" / "latency.json").read_text())
    latency["value"][0]["timeseries"][0]["data"][3]["average"] = bad
    requests = json.loads((DATA / "healthy" / "requests.json").read_text())
    with pytest.raises(RolloutError, match=r"data\[3\]\.average as .*not a finite number >= 0"):
        health_from_metrics(latency, requests, RECORDED_WINDOW)


def test_the_bake_window_is_whole_minutes_after_the_split_went_live():
    live = datetime(2026, 11, 23, 21, 9, 30, tzinfo=UTC)
    assert rollout.bake_window(live, timedelta(minutes=3)) == tuple(datetime(2026, 11, 23, 21, m, tzinfo=UTC) for m in (10, 11, 12))
    assert rollout.bake_window(live.replace(second=0), timedelta(seconds=150))[0] == live.replace(second=0)


def test_steps_split_integer_percentages_deterministically():
    assert split_at({"blue": 100, "green": 0}, "green", 10) == {"blue": 90, "green": 10}
    assert split_at({"a": 50, "b": 50, "c": 0}, "c", 33) == {"a": 34, "b": 33, "c": 33}  # remainder by name
    assert split_at({"a": 70, "b": 30, "c": 0}, "c", 50) == {"a": 35, "b": 15, "c": 50}
    assert plan({"blue": 90, "green": 10}, "green", (10, 50, 100)) == [{"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    for bad in ((50, 10, 100), (10, 50), (0, 100), ()):
        with pytest.raises(RolloutError, match="--steps"):
            plan({"blue": 100}, "green", bad)


# --- the rollout against a fake Azure -----------------------------------------------------------------------------


class FakeAzure:
    """Answers as `az` would: the endpoint's live split, template deployments, and one recorded case per step."""

    def __init__(self, cases, fail_deploy_at=None):
        self.traffic = {"blue": 100, "green": 0}
        self.mirror = {"green": 10}
        self.cases = list(cases)
        self.deployed = []
        self.fail_deploy_at = fail_deploy_at
        self.queries = []
        self.clock = datetime(2026, 11, 23, 21, 0, 20, tzinfo=UTC)

    def split(self, endpoint_id):
        return rollout.split_from_endpoint(
            {"id": endpoint_id, "properties": {"traffic": dict(self.traffic), "mirrorTraffic": dict(self.mirror)}}
        )

    def deploy(self, resource_group, name, template):
        if self.fail_deploy_at is not None and len(self.deployed) == self.fail_deploy_at:
            raise RolloutError("DeploymentFailed")
        self.deployed.append((resource_group, name, template))
        properties = template["resources"][0]["properties"]
        self.traffic, self.mirror = properties["traffic"], properties["mirrorTraffic"]

    def metrics(self, resource_id, metric, dimension_filter, start, end):
        self.queries.append((metric, dimension_filter, start, end, self.clock))
        case = self.cases[0] if metric == "RequestLatency" else self.cases.pop(0)
        document = json.loads((DATA / case / ("latency.json" if metric == "RequestLatency" else "requests.json")).read_text())
        shift = start - RECORDED_WINDOW[0]  # the recording, moved to the window asked for
        for value in document["value"]:
            for series in value["timeseries"]:
                for point in series["data"]:
                    stamp = datetime.fromisoformat(point["timeStamp"]) + shift
                    point["timeStamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        return document

    def now(self):
        return self.clock

    def sleep(self, seconds):
        self.clock += timedelta(seconds=seconds)


def prod_target() -> Target:
    values = {k.split(":", 1)[1]: v for k, v in stack_config("prod").items()}
    settings = parse_settings(decode_config(values, StackConfig))
    return Target("prod", settings, settings.online_endpoints[0], SUBSCRIPTION_ID, "westeurope")


def run(azure, tmp_path, steps=(10, 50, 100)):
    return rollout.rollout(
        prod_target(),
        "green",
        steps,
        timedelta(minutes=10),
        PROD_LIMITS,
        azure,
        rollout.Journal(tmp_path / "state.json"),
        clock=rollout.Clock(now=azure.now, sleep=azure.sleep),
    )


def splits(azure):
    return [t["resources"][0]["properties"]["traffic"] for _, _, t in azure.deployed]


def test_a_healthy_rollout_moves_all_traffic_and_prints_the_split_to_commit(capsys, tmp_path):
    azure = FakeAzure(["healthy"] * 3)
    assert run(azure, tmp_path) == 0
    assert splits(azure) == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert {(rg, name) for rg, name, _ in azure.deployed} == {("rg-ml-endpoints-prod", "traffic-mi-uai-prod")}
    assert azure.deployed[0][2]["resources"][0]["properties"]["mirrorTraffic"] == {}  # green no longer mirrored, said explicitly
    assert [q[:2] for q in azure.queries[:2]] == [
        ("RequestLatency", "deployment eq 'green'"),
        ("RequestsPerMinute", "deployment eq 'green' and statusCodeClass eq '*'"),
    ]
    out = capsys.readouterr().out
    assert "    - name: mi-uai-prod\n      traffic:\n        blue: 0\n        green: 100\n      # and drop green from mirrorTraffic" in out
    assert out.splitlines()[-1] == "Azure holds traffic {'blue': 0, 'green': 100}, mirror {} (read back from the endpoint)"


def test_the_health_window_ends_before_azure_monitors_ingestion_delay(tmp_path):
    """Each query covers the whole minutes the split was live for the bake, and is asked only once the ingestion
    delay has passed after the window's end ("Azure Monitor Metrics overview"; Azure/azure-libraries-for-net#499)."""
    azure = FakeAzure(["healthy"] * 3)
    assert run(azure, tmp_path) == 0
    for _, _, start, end, asked_at in azure.queries:
        assert end - start == timedelta(minutes=10) and start.second == 0
        assert asked_at - end >= rollout.DEFAULT_INGESTION_DELAY


@pytest.mark.parametrize("bad", ["slow", "failing", "missing"])
def test_a_failed_check_restores_the_previous_split(bad, capsys, tmp_path):
    azure = FakeAzure(["healthy", bad])
    assert run(azure, tmp_path) == 2
    assert splits(azure) == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 100, "green": 0}]
    restored = azure.deployed[-1][2]["resources"][0]["properties"]
    assert restored["mirrorTraffic"] == {"green": 10}  # exactly as before, mirror included
    out = capsys.readouterr().out
    assert "green at 50%: " in out and "Health check failed" in out and "Restored {'blue': 100, 'green': 0}" in out


def test_a_failed_restore_says_so_and_exits_3(capsys, tmp_path):
    azure = FakeAzure(["failing"], fail_deploy_at=1)
    assert run(azure, tmp_path) == 3
    captured = capsys.readouterr()
    assert "restoring {'blue': 100, 'green': 0} failed" in captured.err
    assert captured.out.splitlines()[-1] == "Azure holds traffic {'blue': 90, 'green': 10}, mirror {} (read back from the endpoint)"


@pytest.fixture(autouse=True)
def signal_handlers():
    """main() installs its SIGINT/SIGTERM handlers; the test process gets its own back."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


def test_the_command_refuses_bad_input_with_exit_1(capsys):
    class NoAzure:
        def subscription_id(self):
            raise AssertionError("not reached")

    assert rollout.main(["--stack", "prod", "--endpoint", "nope", "--to", "green"], azure=NoAzure()) == 1
    with pytest.raises(SystemExit):
        rollout.main(["--stack", "prod", "--endpoint", "mi-uai-prod", "--to", "green", "--bake", "ten minutes"])
    assert "not a duration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rollout.main(["--stack", "prod", "--endpoint", "mi-uai-prod", "--to", "green", "--bake", "30s"])
    assert "shorter than a minute" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        rollout.main(["--help"])
    assert done.value.code == 0 and "Exit codes: 0 rolled out" in capsys.readouterr().out


def test_the_az_cli_is_called_without_a_host_and_failures_are_errors():
    calls = []

    class Done:
        def __init__(self, code, out="", err=""):
            self.returncode, self.stdout, self.stderr = code, out, err

    def fake_run(argv, **_):
        calls.append(argv)
        return Done(0, json.dumps({"id": SUBSCRIPTION_ID})) if argv[1] == "account" else Done(1, err="AuthorizationFailed")

    cli = rollout.AzCli(run=fake_run)
    assert cli.subscription_id() == SUBSCRIPTION_ID
    with pytest.raises(RolloutError, match="AuthorizationFailed"):
        cli.metrics("/subscriptions/x", "RequestLatency", "deployment eq 'green'", datetime.now(UTC), datetime.now(UTC))
    assert all("https://" not in " ".join(argv) for argv in calls)


# --- the template is the program's: a rollout committed to the stack file drifts nowhere --------------------------


def test_the_final_template_is_the_one_the_program_registers_once_the_split_is_committed(tmp_path):
    azure = FakeAzure(["healthy"] * 3)
    assert run(azure, tmp_path) == 0
    final = azure.deployed[-1][2]
    config = copy.deepcopy(stack_config("prod"))
    endpoint = config["azureml-endpoints:onlineEndpoints"][0]
    endpoint["traffic"] = {"blue": 0, "green": 100}
    endpoint.pop("mirrorTraffic")
    committed = evaluate("prod", config=config)
    assert committed.named("mi-uai-prod-traffic").inputs["properties"]["template"] == final
    assert committed.named("mi-uai-prod-traffic").inputs["deploymentName"] == "traffic-mi-uai-prod"


def test_after_the_commit_and_up_the_drift_run_reports_none(tmp_path, capsys):
    prod = evaluate("prod")
    endpoint, template, scaled = prod.named("mi-uai-prod-endpoint"), prod.named("mi-uai-prod-traffic"), prod.named("mi-uai-prod-blue")

    def state(r):
        return {
            "urn": r.urn,
            "custom": True,
            "id": r.id,
            "type": r.type,
            "inputs": copy.deepcopy(r.inputs),
            "outputs": copy.deepcopy(r.outputs),
            "parent": r.parent,
            "protect": r.protect,
        }

    moved = state(endpoint)
    moved["outputs"]["properties"]["traffic"] = {"blue": 0, "green": 100}  # what the rollout left in Azure
    grown = state(scaled)
    grown["outputs"]["sku"]["capacity"] = 5  # the scaler added two instances
    steps = [
        {"op": "refresh", "urn": endpoint.urn, "oldState": state(endpoint), "newState": moved},
        {"op": "refresh", "urn": scaled.urn, "oldState": state(scaled), "newState": grown},
        {"op": "same", "urn": template.urn, "oldState": state(template), "newState": state(template)},
    ]
    path = tmp_path / "refresh.json"
    path.write_text(json.dumps({"config": {}, "steps": steps, "changeSummary": {}, "duration": 1}))
    assert drift.main([str(path), "--stack", "prod"]) == 0
    assert "No drift" in capsys.readouterr().out


def test_the_command_end_to_end_through_az(capsys, tmp_path):
    """main() with `az` answered as the CLI prints JSON: what it is asked, and the templates it deploys."""
    calls, templates, live = [], [], {"traffic": {"blue": 100, "green": 0}, "mirrorTraffic": {"green": 10}}

    class Done:
        def __init__(self, answer):
            self.returncode, self.stdout, self.stderr = 0, json.dumps(answer), ""

    def az(argv, **_):
        calls.append(argv)
        verb = argv[1:3]
        if verb == ["account", "show"]:
            return Done({"id": SUBSCRIPTION_ID})
        if verb == ["resource", "show"]:
            return Done({"properties": live} if "--api-version" in argv else {"location": "westeurope"})
        if verb == ["deployment", "group"]:
            template = json.loads(open(argv[argv.index("--template-file") + 1]).read())
            templates.append(template)
            properties = template["resources"][0]["properties"]
            live.update(traffic=properties["traffic"], mirrorTraffic=properties["mirrorTraffic"])
            return Done({"properties": {"provisioningState": "Succeeded"}})
        if verb == ["monitor", "metrics"]:
            metric = argv[argv.index("--metrics") + 1]
            start = datetime.fromisoformat(argv[argv.index("--start-time") + 1])
            return Done(FakeAzure(["healthy"]).metrics("", metric, "", start, start))
        raise AssertionError(argv)

    fake = FakeAzure([])
    code = rollout.main(
        [
            "--stack",
            "prod",
            "--endpoint",
            "mi-uai-prod",
            "--to",
            "green",
            "--steps",
            "25,100",
            "--bake",
            "10m",
            "--state-dir",
            str(tmp_path),
        ],
        azure=rollout.AzCli(run=az),
        clock=rollout.Clock(now=fake.now, sleep=fake.sleep),
    )
    assert code == 0, capsys.readouterr()
    assert [t["resources"][0]["properties"]["traffic"] for t in templates] == [{"blue": 75, "green": 25}, {"blue": 0, "green": 100}]
    deploys = [c for c in calls if c[1:3] == ["deployment", "group"]]
    assert all(
        c[c.index("--name") + 1] == "traffic-mi-uai-prod"
        and c[c.index("--mode") + 1] == "Incremental"
        and c[c.index("--resource-group") + 1] == "rg-ml-endpoints-prod"
        for c in deploys
    )
    metrics = [c for c in calls if c[1:3] == ["monitor", "metrics"]]
    endpoint_id = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml-endpoints-prod/providers/Microsoft.MachineLearningServices/workspaces/mlw-endpoints-prod/onlineEndpoints/mi-uai-prod"
    assert {c[c.index("--resource") + 1] for c in metrics} == {endpoint_id}
    assert {c[c.index("--filter") + 1] for c in metrics} == {"deployment eq 'green'", "deployment eq 'green' and statusCodeClass eq '*'"}
    assert all(c[c.index("--interval") + 1] == "PT1M" and c[c.index("--aggregation") + 1] == "Average" for c in metrics)
    identity = templates[0]["resources"][0]["identity"]["userAssignedIdentities"]
    assert list(identity) == [
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml-endpoints-prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-mi-uai-prod"
    ]


def test_every_split_is_valid_for_azure():
    """Exhaustively over three deployments (steps of 5 %) and every target share: integers, summing to 100, the
    target at its share, nobody negative, nobody who carried nothing given traffic, and order never matters."""
    for a in range(0, 101, 5):
        for b in range(0, 101 - a, 5):
            previous = {"a": a, "b": b, "c": 100 - a - b}
            for percent in range(1, 101):
                if percent < 100 and a + b == 0:
                    with pytest.raises(RolloutError):
                        split_at(previous, "c", percent)
                    continue
                split = split_at(previous, "c", percent)
                assert sum(split.values()) == 100 and split["c"] == percent
                assert all(isinstance(v, int) and v >= 0 for v in split.values())
                assert all(split[n] == 0 for n in ("a", "b") if previous[n] == 0)
                assert split_at(dict(reversed(list(previous.items()))), "c", percent) == split
