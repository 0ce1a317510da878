"""Progressive rollout with automatic rollback: shift an online endpoint's live traffic to one deployment in steps.

    azureml-endpoints rollout --stack prod --endpoint mi-uai-prod --to green [--steps 10,50,100] [--bake 10m]

Each step deploys the traffic template the program owns (components/endpoint_template.py, ARM deployment
`traffic-<endpoint>`, the endpoint exactly as the stack declares it plus the step's split), reads the split back,
bakes, waits out Azure Monitor's ingestion delay, then reads the target deployment's request latency and 5xx rate
for the bake window ("Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints") and
checks them against the stack's alert thresholds (monitoring.alerts). A failed check, a minute without data, an
Azure error, a timeout or an interruption restores the split the endpoint had before the rollout. Azure is reached
through the `az` CLI, so the cloud (and its ARM endpoint) is the one `az` is logged in to. Every run ends by
printing the split it read back from Azure (docs/progressive-rollout.md#exit-codes-and-interruptions).

Exit codes: 0 rolled out (Azure holds the target split); 1 nothing changed (unusable input, or Azure could not be
read before any change); 2 a step failed and the previous split was restored; 3 restoring failed or could not be
confirmed (the state file stays; rerun, or `--restore`); 4 interrupted (Ctrl-C, SIGTERM) and the previous split
was restored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from azureml_endpoints.azure.endpoint_template import ML_API_VERSION, template_document
from azureml_endpoints.config.base import SettingsError, decode_config
from azureml_endpoints.config.common import IdentityType
from azureml_endpoints.config.online import OnlineEndpointConfig
from azureml_endpoints.config.operability import AlertsConfig
from azureml_endpoints.config.stack import StackConfig, parse_settings
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic
from azureml_endpoints.pulumi_io.stack_files import stack_config
from components.online_endpoint import traffic_properties

DEFAULT_STEPS = (10, 50, 100)
ENDPOINT_METRIC_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
# Azure Monitor's platform metrics arrive minutes after the fact, and a not-yet-ingested minute comes back missing
# or as 0 ("Azure Monitor Metrics overview": near real time, not real time; Azure/azure-libraries-for-net#499:
# "zero values being returned for no-data" for the latest PT1M points). The window is judged only this long after
# it ends.
DEFAULT_INGESTION_DELAY = timedelta(minutes=5)
# Answers worth asking again: ARM's 409 (another operation or deployment on the resource is in progress, code
# DeploymentActive / Conflict), its 429 throttling (TooManyRequests) and 5xx ("Troubleshoot common Azure deployment
# errors"; "Understand how Azure Resource Manager throttles requests"). az prints the error code, sometimes the
# status.
RETRYABLE = re.compile(
    r"\b(409|429|500|502|503|504|Conflict|DeploymentActive|AnotherOperationInProgress|OperationNotAllowed|"
    r"TooManyRequests|Too Many Requests|InternalServerError|ServiceUnavailable|GatewayTimeout|BadGateway|RetryableError)\b"
)
EXIT_ROLLED_OUT, EXIT_UNCHANGED, EXIT_RESTORED, EXIT_RESTORE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4


class RolloutError(Exception):
    """Input or an Azure answer the rollout cannot work with."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM: a BaseException, so no error handler swallows it before the restore runs."""


# --- the decision: pure, tested offline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    request_latency_ms: float
    server_errors_per_minute: float

    @classmethod
    def from_alerts(cls, alerts: AlertsConfig) -> Thresholds:
        return cls(alerts.request_latency_ms, alerts.server_errors_per_minute)


@dataclass(frozen=True)
class Health:
    """One deployment's per-minute figures from Azure Monitor, keyed by the minute's start; the minutes asked for."""

    minutes: tuple[datetime, ...]
    latency_ms: dict[datetime, float]
    requests_per_minute: dict[datetime, float]  # all status classes
    server_errors_per_minute: dict[datetime, float]  # 5xx only


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def judge(health: Health, limits: Thresholds) -> Verdict:
    """Healthy only with evidence for every minute of the window: requests served, a latency, both within the alert
    thresholds on average (as the metric alerts aggregate, Average over windowSize).

    A minute without a request count or a latency, or with 0 for either, is a minute Azure Monitor has not
    ingested yet or that served nothing (Azure/azure-libraries-for-net#499): the health is unknown, never healthy.
    """
    missing = [m for m in health.minutes if health.requests_per_minute.get(m, 0) <= 0 or health.latency_ms.get(m, 0) <= 0]
    if not health.minutes or missing:
        stamps = ", ".join(m.strftime("%H:%M") for m in missing[:5]) + (" …" if len(missing) > 5 else "")
        return Verdict(
            False,
            f"unknown: no data for {len(missing)} of {len(health.minutes)} minutes ({stamps or 'no window'}); Azure Monitor "
            "has not ingested them or the deployment served nothing, so its health is unknown",
        )
    count = len(health.minutes)
    requests = sum(health.requests_per_minute[m] for m in health.minutes)
    latency = sum(health.latency_ms[m] for m in health.minutes) / count
    failed = sum(health.server_errors_per_minute.get(m, 0.0) for m in health.minutes)
    errors, error_share = failed / count, 100 * failed / requests
    if errors > limits.server_errors_per_minute:
        return Verdict(
            False, f"failing: {errors:.2f} 5xx per minute ({error_share:.1f}% of requests) > {limits.server_errors_per_minute:g}"
        )
    if latency > limits.request_latency_ms:
        return Verdict(False, f"slow: average latency {latency:.0f} ms > {limits.request_latency_ms:g} ms")
    return Verdict(True, f"healthy: average latency {latency:.0f} ms, {errors:.2f} 5xx per minute ({error_share:.1f}%)")


def split_at(previous: dict[str, int], target: str, percent: int) -> dict[str, int]:
    """The split with `percent` on target and the rest shared by the others in their current proportions.

    Integer percentages (Azure's rule), largest remainder first, ties by name: the same input, the same split.
    """
    others = {name: p for name, p in previous.items() if name != target}
    rest, weight = 100 - percent, sum(others.values())
    if rest and not weight:
        raise RolloutError(f"no other deployment carries traffic to give back {rest}% to")
    exact = {name: (rest * p / weight if weight else 0.0) for name, p in others.items()}
    split = {name: math.floor(v) for name, v in exact.items()}
    leftover = rest - sum(split.values())
    for name in sorted(exact, key=lambda n: (-(exact[n] - split[n]), n))[:leftover]:
        split[name] += 1
    return {**split, target: percent}


def plan(previous: dict[str, int], target: str, steps: tuple[int, ...]) -> list[dict[str, int]]:
    """The splits to go through: one per step above the target's current share."""
    if list(steps) != sorted(set(steps)) or not steps or steps[-1] != 100 or steps[0] < 1:
        raise RolloutError(f"--steps must rise strictly from 1 to end at 100 (got {','.join(map(str, steps))})")
    current = previous.get(target, 0)
    return [split_at(previous, target, p) for p in steps if p > current]


# --- Azure's answers, checked: only finite, non-negative numbers count as data ----------------------------------


@dataclass(frozen=True)
class Split:
    traffic: dict[str, int]
    mirror: dict[str, int]

    def __str__(self) -> str:
        return f"traffic {self.traffic}, mirror {self.mirror}"


def _shape(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RolloutError(f"Azure answered {where} as {_show(value)}, not {kind.__name__ if kind is not dict else 'an object'}")
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _figure(value: Any, where: str) -> float | None:
    """A metric value: absent (None) or a finite number >= 0; NaN, infinities, negatives, booleans, text refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise RolloutError(f"Azure Monitor answered {where} as {_show(value)}, not a finite number >= 0")
    return float(value)


def _percentages(value: Any, where: str) -> dict[str, int]:
    shares = _shape(value if value is not None else {}, dict, where)
    for name, share in shares.items():
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
            raise RolloutError(f"Azure answered {where}.{name} as {_show(share)}, not a whole percentage 0..100")
    return dict(shares)


def split_from_endpoint(document: Any) -> Split:
    """The live split from `az resource show` of the endpoint (ARM's OnlineEndpoint: properties.traffic and
    properties.mirrorTraffic, integer percentages)."""
    properties = _shape(_shape(document, dict, "the endpoint").get("properties"), dict, "the endpoint's properties")
    traffic = _percentages(properties.get("traffic"), "properties.traffic")
    if traffic and sum(traffic.values()) != 100:
        raise RolloutError(f"Azure answered properties.traffic as {traffic}, which does not sum to 100")
    return Split(traffic, _percentages(properties.get("mirrorTraffic"), "properties.mirrorTraffic"))


def _timestamp(value: Any, where: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(_shape(value, str, where))
    except ValueError:
        raise RolloutError(f"Azure Monitor answered {where} as {_show(value)}, not a time") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)


def _series(document: Any, metric: str) -> list[dict]:
    """The timeseries of `metric` in an Azure Monitor "Metrics - List" answer, every level shape-checked."""
    values = _shape(_shape(document, dict, f"the {metric} answer").get("value"), list, f"the {metric} answer's value")
    found: list[dict] = []
    for i, entry in enumerate(values):
        entry = _shape(entry, dict, f"{metric} value[{i}]")
        name = _shape(entry.get("name"), dict, f"{metric} value[{i}].name")
        if name.get("value") == metric:
            for j, series in enumerate(_shape(entry.get("timeseries", []), list, f"{metric} value[{i}].timeseries")):
                found.append(_shape(series, dict, f"{metric} timeseries[{j}]"))
    return found


def _dimension(series: dict, name: str, where: str) -> str | None:
    for meta in _shape(series.get("metadatavalues", []), list, f"{where}.metadatavalues"):
        meta = _shape(meta, dict, f"{where}.metadatavalues[]")
        key = _shape(meta.get("name"), dict, f"{where}.metadatavalues[].name").get("value")
        if isinstance(key, str) and key.lower() == name.lower():
            return str(meta.get("value"))
    return None


def _points(series: list[dict], metric: str, combine: Callable[[list[float]], float]) -> dict[datetime, float]:
    """Per-minute averages of the given series, combined per minute; minutes without a value are left out."""
    by_minute: dict[datetime, list[float]] = {}
    for i, one in enumerate(series):
        for j, point in enumerate(_shape(one.get("data", []), list, f"{metric} timeseries[{i}].data")):
            where = f"{metric} timeseries[{i}].data[{j}]"
            point = _shape(point, dict, where)
            stamp = _timestamp(point.get("timeStamp"), f"{where}.timeStamp")
            value = _figure(point.get("average"), f"{where}.average")
            if value is not None:
                by_minute.setdefault(stamp, []).append(value)
    return {stamp: combine(values) for stamp, values in by_minute.items()}


def health_from_metrics(latency_document: Any, requests_document: Any, minutes: tuple[datetime, ...]) -> Health:
    """Reads `az monitor metrics list` (Azure Monitor "Metrics - List") answers for RequestLatency and for
    RequestsPerMinute split by statusCodeClass, both filtered to the target deployment."""
    requests = _series(requests_document, "RequestsPerMinute")
    server_errors = [s for s in requests if (_dimension(s, "statusCodeClass", "RequestsPerMinute") or "").lower() == "5xx"]
    return Health(
        minutes=minutes,
        latency_ms=_points(_series(latency_document, "RequestLatency"), "RequestLatency", lambda v: sum(v) / len(v)),
        requests_per_minute=_points(requests, "RequestsPerMinute", sum),
        server_errors_per_minute=_points(server_errors, "RequestsPerMinute", sum),
    )


def bake_window(live_at: datetime, bake: timedelta) -> tuple[datetime, ...]:
    """The whole minutes after the split went live that the bake covers (Azure Monitor's grain is PT1M)."""
    first = live_at.replace(second=0, microsecond=0) + (timedelta(minutes=1) if live_at.second or live_at.microsecond else timedelta())
    return tuple(first + timedelta(minutes=i) for i in range(int(bake.total_seconds() // 60)))


# --- Azure, through the az CLI ----------------------------------------------------------------------------------


class Azure(Protocol):
    def split(self, endpoint_id: str) -> Split: ...
    def deploy(self, resource_group: str, name: str, template: dict) -> None: ...
    def metrics(self, resource_id: str, metric: str, dimension_filter: str, start: datetime, end: datetime) -> Any: ...


@dataclass(frozen=True)
class Patience:
    """How long each `az` call may take, and how often a retryable answer (409, 429, 5xx) is asked again."""

    call: timedelta = timedelta(minutes=2)
    deploy: timedelta = timedelta(minutes=20)
    attempts: int = 5
    backoff: timedelta = timedelta(seconds=5)  # doubled after each retry, at most a minute


class AzCli:
    """`az` as the pipeline's OIDC login left it: subscription and cloud are az's, never a host in this code."""

    def __init__(
        self,
        run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
        patience: Patience = Patience(),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._run, self._patience, self._sleep = run, patience, sleep

    def _az(self, *args: str, timeout: timedelta | None = None) -> Any:
        """One answer parsed as JSON; a timeout, a refusal or an unparseable answer is a RolloutError."""
        verb = "az " + " ".join(args[:3])
        seconds = (timeout or self._patience.call).total_seconds()
        for attempt in range(1, self._patience.attempts + 1):
            try:
                result = self._run(["az", *args, "--only-show-errors", "-o", "json"], capture_output=True, text=True, timeout=seconds)
            except subprocess.TimeoutExpired:
                raise RolloutError(f"{verb} did not answer within {seconds:g} s (stopped)") from None
            except (OSError, UnicodeDecodeError) as error:
                raise RolloutError(f"{verb} could not run: {error}") from None
            message = (result.stderr or "").strip() or (result.stdout or "").strip()
            if result.returncode == 0:
                return _json_answer(verb, result.stdout or "")
            if attempt == self._patience.attempts or not RETRYABLE.search(message):
                raise RolloutError(f"{verb} failed: {_first_line(message) or f'exit code {result.returncode}'}")
            wait = min(self._patience.backoff.total_seconds() * 2 ** (attempt - 1), 60.0)
            print(f"  {verb} answered {_first_line(message)}; asking again in {wait:g} s", flush=True)
            self._sleep(wait)
        raise AssertionError("unreachable")

    def subscription_id(self) -> str:
        answer = _shape(self._az("account", "show"), dict, "az account show")
        found = answer.get("id")
        if not isinstance(found, str) or not re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", found):
            raise RolloutError(f"az account show answered the subscription id as {_show(found)}")
        return found

    def location(self, resource_id: str) -> str:
        found = _shape(self._az("resource", "show", "--ids", resource_id), dict, "the workspace").get("location")
        if not isinstance(found, str) or not re.fullmatch(r"[a-z0-9]+", found):
            raise RolloutError(f"Azure answered the workspace location as {_show(found)}")
        return found

    def split(self, endpoint_id: str) -> Split:
        return split_from_endpoint(self._az("resource", "show", "--ids", endpoint_id, "--api-version", ML_API_VERSION))

    def deploy(self, resource_group: str, name: str, template: dict) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(template, handle)
        try:
            answer = self._az(
                "deployment",
                "group",
                "create",
                "--resource-group",
                resource_group,
                "--name",
                name,
                "--mode",
                "Incremental",
                "--template-file",
                handle.name,
                timeout=self._patience.deploy,
            )
            _shape(answer, dict, "az deployment group create")
        finally:
            Path(handle.name).unlink(missing_ok=True)

    def metrics(self, resource_id: str, metric: str, dimension_filter: str, start: datetime, end: datetime) -> Any:
        return self._az(
            "monitor",
            "metrics",
            "list",
            "--resource",
            resource_id,
            "--metrics",
            metric,
            "--namespace",
            ENDPOINT_METRIC_NAMESPACE,
            "--aggregation",
            "Average",
            "--interval",
            "PT1M",
            "--filter",
            dimension_filter,
            "--start-time",
            start.isoformat(),
            "--end-time",
            end.isoformat(),
        )


def _json_answer(verb: str, text: str) -> Any:
    if not text.strip():
        raise RolloutError(f"{verb} answered nothing")
    try:
        return json.loads(text)
    except ValueError as error:
        raise RolloutError(f"{verb} answered something that is not JSON ({error}): {_show(text.strip())}") from None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]


# --- the state a rerun resumes from ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What a killed run leaves behind: the split before the rollout, the target, and how far it was judged healthy."""

    to: str
    baseline: Split
    healthy_share: int


class Journal:
    """The rollout's state file, written atomically before every change, removed once Azure holds a known end."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> Record | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise RolloutError(f"cannot read the rollout state {self.path}: {error}") from None
        try:
            document = json.loads(text)
            baseline = document["baseline"]
            record = Record(
                to=_shape(document["to"], str, "to"),
                baseline=Split(
                    _percentages(baseline["traffic"], "baseline.traffic"), _percentages(baseline["mirrorTraffic"], "baseline.mirrorTraffic")
                ),
                healthy_share=_shape(document["healthyShare"], int, "healthyShare"),
            )
        except (ValueError, KeyError, TypeError, RolloutError) as error:
            raise RolloutError(
                f"the rollout state {self.path} is unusable ({error}); read Azure's split, set it with `pulumi up`, then delete the file"
            ) from None
        return record

    def save(self, record: Record) -> None:
        document = {
            "to": record.to,
            "baseline": {"traffic": record.baseline.traffic, "mirrorTraffic": record.baseline.mirror},
            "healthyShare": record.healthy_share,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(document, indent=2) + "\n")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# --- signals: an interruption restores ---------------------------------------------------------------------------


class Signals:
    """SIGINT and SIGTERM raise Interrupted, except while the restore runs: then they are noted and it finishes
    (each of its az calls is bounded by a timeout), so the run never stops between "deployed" and "read back"."""

    def __init__(self) -> None:
        self.shielded = False
        self.received: str | None = None

    def install(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, self._handle)

    def _handle(self, number: int, _frame: object) -> None:
        self.received = signal.Signals(number).name
        if self.shielded:
            print(f"  {self.received} received: finishing the restore first", flush=True)
            return
        raise Interrupted(self.received)

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        self.shielded = True
        try:
            yield
        finally:
            self.shielded = False


# --- the rollout ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    stack: str
    settings: StackConfig
    endpoint: OnlineEndpointConfig
    subscription_id: str
    location: str

    @property
    def resource_group(self) -> str:
        return self.settings.workspace.resource_group

    @property
    def endpoint_id(self) -> str:
        ws = self.settings.workspace
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{ws.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{ws.name}/onlineEndpoints/{self.endpoint.name}"
        )

    @property
    def user_assigned_identity_id(self) -> str | None:
        if self.endpoint.identity.type is not IdentityType.USER_ASSIGNED:
            return None
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{self.endpoint.identity.user_assigned_identity_name}"
        )

    @property
    def deployment_name(self) -> str:
        return f"traffic-{self.endpoint.name}"


def traffic_template(target: Target, traffic: dict[str, int], mirror: dict[str, int]) -> dict:
    """The template the program registers for this endpoint, with `traffic` and `mirror` as the split (an empty
    mirror is sent as `{}`, as the program sends it)."""
    declared = replace_split(target.endpoint, traffic, mirror)
    return template_document(
        "onlineEndpoints",
        target.settings.workspace.name,
        target.location,
        declared.name,
        target.settings.tags_for(target.stack),
        traffic_properties(declared),
        target.user_assigned_identity_id,
    )


def replace_split(endpoint: OnlineEndpointConfig, traffic: dict[str, int], mirror: dict[str, int]) -> OnlineEndpointConfig:
    return endpoint.model_copy(update={"traffic": dict(traffic), "mirror_traffic": dict(mirror)})


def _say(message: str) -> None:
    print(message, flush=True)


def _holds(split: Split | None) -> None:
    """The last line of every run: what Azure holds, as read back, or that it could not be read."""
    _say(f"Azure holds {split} (read back from the endpoint)" if split else "Azure's split could not be read back")


@dataclass(frozen=True)
class Clock:
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    def wait_until(self, moment: datetime) -> None:
        seconds = (moment - self.now()).total_seconds()
        if seconds > 0:
            self.sleep(seconds)


def rollout(
    target: Target,
    to: str,
    steps: tuple[int, ...],
    bake: timedelta,
    limits: Thresholds,
    azure: Azure,
    journal: Journal,
    signals: Signals | None = None,
    clock: Clock = Clock(),
    ingestion_delay: timedelta = DEFAULT_INGESTION_DELAY,
) -> int:
    """Run (or resume) the rollout; every return has printed, last, the split read back from Azure."""
    signals = signals or Signals()
    live: Split | None = None
    try:
        live = azure.split(target.endpoint_id)
        record = journal.load()
        baseline = record.baseline if record else live
        declared = {d.name for d in target.endpoint.deployments}
        unknown = sorted((set(baseline.traffic) | set(live.traffic)) - declared)
        if unknown or to not in declared:
            raise RolloutError(
                f"'{to}' or the live split's deployments ({', '.join(unknown) or 'none unknown'}) are not declared for "
                f"{target.endpoint.name} in Pulumi.{target.stack}.yaml; run `pulumi up` first"
            )
        healthy = record.healthy_share if record and record.to == to else baseline.traffic.get(to, 0)
        splits = plan(baseline.traffic, to, steps)
        final = splits[-1] if splits else baseline.traffic
        splits = [s for s in splits if s[to] > healthy] or ([] if live.traffic == final else [final])
        # Azure refuses mirroring to a deployment that takes live traffic: the target stops being mirrored.
        mirror = {k: v for k, v in baseline.mirror.items() if k != to}
        if record:
            _say(f"Resuming the rollout recorded in {journal.path}: before it, Azure held {baseline}; now {live}")
        journal.save(Record(to, baseline, healthy))
    except (RolloutError, WriteFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        _say("Nothing changed.")
        _holds(live)
        return EXIT_UNCHANGED
    except Interrupted as stop:
        _say(f"Interrupted ({stop}) before any change; nothing changed.")
        _holds(live)
        return EXIT_UNCHANGED

    _say(f"Rolling {target.endpoint.name} to {to}: {baseline.traffic} -> " + " -> ".join(str(s) for s in splits))
    try:
        for split in splits:
            azure.deploy(target.resource_group, target.deployment_name, traffic_template(target, split, mirror))
            held = azure.split(target.endpoint_id)
            if held.traffic != split:
                raise RolloutError(f"after deploying {split}, Azure holds {held.traffic}")
            if split[to] <= healthy:  # a resumed run putting back a split already judged healthy
                continue
            minutes = bake_window(clock.now(), bake)
            _say(f"  {split}: live; baking {len(minutes)} min, then {ingestion_delay} for Azure Monitor's ingestion")
            end = minutes[-1] + timedelta(minutes=1)
            clock.wait_until(end + ingestion_delay)
            latency = azure.metrics(target.endpoint_id, "RequestLatency", f"deployment eq '{to}'", minutes[0], end)
            requests = azure.metrics(
                target.endpoint_id, "RequestsPerMinute", f"deployment eq '{to}' and statusCodeClass eq '*'", minutes[0], end
            )
            verdict = judge(health_from_metrics(latency, requests, minutes), limits)
            _say(f"  {to} at {split[to]}%: {verdict.reason}")
            if not verdict.healthy:
                return _restore(target, azure, journal, signals, baseline, f"Health check failed ({verdict.reason})", EXIT_RESTORED)
            healthy = split[to]
            journal.save(Record(to, baseline, healthy))
    except Interrupted as stop:
        return _restore(target, azure, journal, signals, baseline, f"Interrupted ({stop})", EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - any failure mid-rollout, an unforeseen one included, must restore
        _say(f"  error: {_first_line(str(error)) or type(error).__name__}")
        return _restore(target, azure, journal, signals, baseline, "The step failed", EXIT_RESTORED)

    try:
        held = azure.split(target.endpoint_id)
    except (RolloutError, Interrupted) as error:
        print(f"error: the rollout finished but reading the endpoint back failed: {error}; rerun to confirm", file=sys.stderr)
        _holds(None)
        return EXIT_RESTORE_FAILED
    journal.clear()
    _say(
        f"Rolled out: {target.endpoint.name} serves {final}. Commit it to Pulumi.{target.stack}.yaml "
        "(docs/progressive-rollout.md):\n\n"
        + _config_snippet(target.endpoint.name, final, mirror, dropped=sorted(set(baseline.mirror) - set(mirror)))
    )
    _holds(held)
    return EXIT_ROLLED_OUT


def _restore(target: Target, azure: Azure, journal: Journal, signals: Signals, baseline: Split, why: str, code: int) -> int:
    """Deploy the split from before the rollout and read it back; signals wait until it is done."""
    with signals.shield():
        _say(f"{why}; restoring {baseline}")
        held: Split | None = None
        try:
            azure.deploy(target.resource_group, target.deployment_name, traffic_template(target, baseline.traffic, baseline.mirror))
            held = azure.split(target.endpoint_id)
            if held != baseline:
                raise RolloutError(f"after restoring, Azure holds {held}")
        except Exception as error:  # noqa: BLE001 - whatever stopped the restore, say what Azure holds
            if held is None:
                with contextlib.suppress(Exception):
                    held = azure.split(target.endpoint_id)
            print(
                f"error: restoring {baseline.traffic} failed: {_first_line(str(error)) or type(error).__name__}. Rerun the same "
                f"command, or `azureml-endpoints rollout --restore` with it, or `pulumi up -s {target.stack}` (the declared split).",
                file=sys.stderr,
            )
            _holds(held)
            return EXIT_RESTORE_FAILED
        journal.clear()
        _say(f"Restored {baseline.traffic}, the split the endpoint had before the rollout; nothing to commit.")
        _holds(held)
        return code


def restore_recorded(target: Target, azure: Azure, journal: Journal, signals: Signals) -> int:
    """`--restore`: put back the split a killed run recorded."""
    try:
        record = journal.load()
        if record is None:
            live = azure.split(target.endpoint_id)
            _say(f"No interrupted rollout is recorded in {journal.path}; nothing changed.")
            _holds(live)
            return EXIT_UNCHANGED
    except (RolloutError, Interrupted) as error:
        print(f"error: {error}", file=sys.stderr)
        _holds(None)
        return EXIT_UNCHANGED
    return _restore(target, azure, journal, signals, record.baseline, f"--restore of {journal.path}", EXIT_RESTORED)


def _config_snippet(endpoint: str, traffic: dict[str, int], mirror: dict[str, int], dropped: list[str]) -> str:
    lines = [f"    - name: {endpoint}", "      traffic:"] + [f"        {k}: {v}" for k, v in traffic.items()]
    if mirror:
        lines += ["      mirrorTraffic:"] + [f"        {k}: {v}" for k, v in mirror.items()]
    if dropped:
        lines.append(f"      # and drop {', '.join(dropped)} from mirrorTraffic: live traffic is never mirrored")
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d{1,6})([smh])", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration such as 30s, 10m or 1h")
    return timedelta(seconds=int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)])


def parse_bake(text: str) -> timedelta:
    bake = parse_duration(text)
    if bake < timedelta(minutes=1):
        raise argparse.ArgumentTypeError(f"--bake {text} is shorter than a minute, Azure Monitor's finest grain (PT1M)")
    return bake


def parse_steps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of percentages such as 10,50,100") from None


def load_target(stack: str, endpoint_name: str, azure: AzCli) -> Target:
    values = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items() if k.startswith("azureml-endpoints:")}
    settings = parse_settings(decode_config(values, StackConfig))
    found = [e for e in settings.online_endpoints if e.name == endpoint_name]
    if not found:
        names = ", ".join(e.name for e in settings.online_endpoints) or "none"
        raise RolloutError(f"Pulumi.{stack}.yaml declares no online endpoint '{endpoint_name}' (it declares: {names})")
    subscription = azure.subscription_id()
    ws = settings.workspace
    workspace_id = (
        f"/subscriptions/{subscription}/resourceGroups/{ws.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
    )
    return Target(stack, settings, found[0], subscription, azure.location(workspace_id))


def _env_duration(name: str, default: timedelta) -> timedelta:
    text = os.environ.get(name)
    return parse_duration(text) if text else default


def main(argv: list[str] | None = None, azure: AzCli | None = None, clock: Clock | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints rollout",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 rolled out, 1 nothing changed (unusable input, Azure unreadable), 2 a step failed and "
        "the previous split was restored, 3 restoring failed or is unconfirmed (rerun, or --restore), 4 interrupted "
        "and the previous split restored. The last line always says what Azure holds.",
    )
    parser.add_argument("--stack", required=True, help="stack whose Pulumi.<stack>.yaml declares the endpoint")
    parser.add_argument("--endpoint", required=True, help="online endpoint name")
    parser.add_argument("--to", help="deployment that receives the traffic (not with --restore)")
    parser.add_argument("--restore", action="store_true", help="put back the split an interrupted rollout recorded")
    parser.add_argument(
        "--steps", type=parse_steps, default=DEFAULT_STEPS, help="percentages for the target, ending at 100 (default 10,50,100)"
    )
    parser.add_argument("--bake", type=parse_bake, default=timedelta(minutes=10), help="wait before each health check (default 10m)")
    parser.add_argument(
        "--ingestion-delay",
        type=parse_duration,
        default=_env_duration("AZUREML_ROLLOUT_INGESTION_DELAY", DEFAULT_INGESTION_DELAY),
        help="how long after the bake window Azure Monitor is read (default 5m)",
    )
    parser.add_argument(
        "--az-timeout",
        type=parse_duration,
        default=_env_duration("AZUREML_ROLLOUT_AZ_TIMEOUT", Patience.call),
        help="longest wait for one az read (default 2m)",
    )
    parser.add_argument(
        "--deploy-timeout",
        type=parse_duration,
        default=_env_duration("AZUREML_ROLLOUT_DEPLOY_TIMEOUT", Patience.deploy),
        help="longest wait for one template deployment (default 20m)",
    )
    parser.add_argument(
        "--retry-backoff",
        type=parse_duration,
        default=_env_duration("AZUREML_ROLLOUT_RETRY_BACKOFF", Patience.backoff),
        help="first wait before asking again after a 409, 429 or 5xx (default 5s, doubling, 5 attempts)",
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".rollout"), help="where the resumable state is kept (default .rollout)")
    args = parser.parse_args(argv)
    if bool(args.to) == args.restore:
        parser.error("give --to <deployment>, or --restore")
    signals = Signals()
    signals.install()
    patience = Patience(args.az_timeout, args.deploy_timeout, Patience.attempts, args.retry_backoff)
    # Tests run the command at full speed: every wait (bake, ingestion delay, backoff) is scaled by this factor.
    try:
        scale = float(os.environ.get("AZUREML_ROLLOUT_SLEEP_SCALE", "1"))
    except ValueError:
        parser.error("AZUREML_ROLLOUT_SLEEP_SCALE is not a number")
    clock = clock or Clock(sleep=lambda seconds: time.sleep(seconds * scale))
    azure = azure or AzCli(patience=patience, sleep=clock.sleep)
    journal = Journal(args.state_dir / f"{args.stack}.{args.endpoint}.json")
    try:
        target = load_target(args.stack, args.endpoint, azure)
    except (RolloutError, SettingsError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        _say("Nothing changed.")
        _holds(None)
        return EXIT_UNCHANGED
    except Interrupted as stop:
        _say(f"Interrupted ({stop}) before any change; nothing changed.")
        _holds(None)
        return EXIT_UNCHANGED
    if args.restore:
        return restore_recorded(target, azure, journal, signals)
    alerts = target.settings.monitoring.alerts if target.settings.monitoring and target.settings.monitoring.alerts else AlertsConfig()
    return rollout(
        target,
        args.to,
        args.steps,
        args.bake,
        Thresholds.from_alerts(alerts),
        azure,
        journal,
        signals,
        clock,
        args.ingestion_delay,
    )


if __name__ == "__main__":
    sys.exit(main())
