"""Progressive rollout with automatic rollback: shift an online endpoint's live traffic to one deployment in steps.

    azureml-endpoints rollout --stack prod --endpoint mi-uai-prod --to green [--steps 10,50,100] [--bake 10m]

Each step deploys the traffic template the program owns (components/endpoint_template.py, ARM deployment
`traffic-<endpoint>`, the endpoint exactly as the stack declares it plus the step's split), waits the bake time,
then reads the target deployment's request latency and 5xx rate from Azure Monitor ("Supported metrics for
Microsoft.MachineLearningServices/workspaces/onlineEndpoints") and checks them against the stack's alert
thresholds (monitoring.alerts). A failed check, or no data to judge by, restores the split the endpoint had before
the rollout. Azure is reached through the `az` CLI, so the cloud (and its ARM endpoint) is the one `az` is logged
in to. A finished rollout prints the split to commit to Pulumi.<stack>.yaml (docs/progressive-rollout.md).

Exit codes: 0 rolled out; 1 unusable input, or the endpoint could not be read (nothing changed); 2 a step failed
(health check, no data, or an Azure error) and the previous split was restored; 3 a step failed and restoring the
previous split failed too (act by hand).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
from azureml_endpoints.pulumi_io.stack_files import stack_config
from components.online_endpoint import traffic_properties

DEFAULT_STEPS = (10, 50, 100)
ENDPOINT_METRIC_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"


class RolloutError(Exception):
    """Input or an Azure answer the rollout cannot work with."""


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
    """Per-minute values of one deployment over the bake window; None where Azure Monitor has no point."""

    latency_ms: list[float | None]
    requests_per_minute: list[float | None]  # all status classes
    server_errors_per_minute: list[float | None]  # 5xx only


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def judge(health: Health, limits: Thresholds) -> Verdict:
    """Healthy only with evidence: some requests served, average latency and 5xx rate within the alert thresholds.

    Averages over the window, as the metric alerts aggregate (Average over windowSize).
    """
    requests = sum(v for v in health.requests_per_minute if v is not None)
    latency = _mean(health.latency_ms)
    if requests <= 0 or latency is None:
        return Verdict(False, "no data: the deployment served no request Azure Monitor recorded, so its health is unknown")
    errors = _mean([v if v is not None else 0.0 for v in health.server_errors_per_minute]) or 0.0
    error_share = 100 * sum(v for v in health.server_errors_per_minute if v is not None) / requests
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


# --- Azure Monitor answers --------------------------------------------------------------------------------------


def _series(document: dict, metric: str) -> list[dict]:
    for value in document.get("value") or []:
        if (value.get("name") or {}).get("value") == metric:
            return value.get("timeseries") or []
    return []


def _dimension(timeseries: dict, name: str) -> str | None:
    for meta in timeseries.get("metadatavalues") or []:
        if ((meta.get("name") or {}).get("value") or "").lower() == name.lower():
            return meta.get("value")
    return None


def _points(timeseries: list[dict]) -> list[float | None]:
    """Per-minute averages, summed over the given series (minutes aligned by timestamp)."""
    by_minute: dict[str, float | None] = {}
    for series in timeseries:
        for point in series.get("data") or []:
            stamp, value = point.get("timeStamp"), point.get("average")
            if stamp is None:
                continue
            if value is None:
                by_minute.setdefault(stamp, None)
            else:
                by_minute[stamp] = (by_minute.get(stamp) or 0.0) + float(value)
    return [by_minute[s] for s in sorted(by_minute)]


def health_from_metrics(latency_document: dict, requests_document: dict) -> Health:
    """Reads `az monitor metrics list` (Azure Monitor "Metrics - List") answers for RequestLatency and for
    RequestsPerMinute split by statusCodeClass, both filtered to the target deployment."""
    requests = _series(requests_document, "RequestsPerMinute")
    return Health(
        latency_ms=_points(_series(latency_document, "RequestLatency")),
        requests_per_minute=_points(requests),
        server_errors_per_minute=_points([s for s in requests if (_dimension(s, "statusCodeClass") or "").lower() == "5xx"]),
    )


# --- Azure, through the az CLI ----------------------------------------------------------------------------------


class Azure(Protocol):
    def endpoint(self, endpoint_id: str) -> dict: ...
    def deploy(self, resource_group: str, name: str, template: dict) -> None: ...
    def metrics(self, resource_id: str, metric: str, dimension_filter: str, start: datetime, end: datetime) -> dict: ...


class AzCli:
    """`az` as the pipeline's OIDC login left it: subscription and cloud are az's, never a host in this code."""

    def __init__(self, run: Callable[..., subprocess.CompletedProcess] = subprocess.run):
        self._run = run

    def _az(self, *args: str) -> Any:
        result = self._run(["az", *args, "--only-show-errors", "-o", "json"], capture_output=True, text=True)
        if result.returncode != 0:
            raise RolloutError(f"az {' '.join(args[:3])} failed: {result.stderr.strip() or result.stdout.strip()}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def subscription_id(self) -> str:
        return self._az("account", "show")["id"]

    def location(self, resource_id: str) -> str:
        return self._az("resource", "show", "--ids", resource_id)["location"]

    def endpoint(self, endpoint_id: str) -> dict:
        return self._az("resource", "show", "--ids", endpoint_id, "--api-version", ML_API_VERSION)

    def deploy(self, resource_group: str, name: str, template: dict) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(template, handle)
        try:
            self._az(
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
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)

    def metrics(self, resource_id: str, metric: str, dimension_filter: str, start: datetime, end: datetime) -> dict:
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


def traffic_template(target: Target, traffic: dict[str, int], mirror: dict[str, int]) -> dict:
    """The template the program registers for this endpoint, with `traffic` as the split."""
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


def rollout(
    target: Target,
    to: str,
    steps: tuple[int, ...],
    bake: timedelta,
    limits: Thresholds,
    azure: Azure,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    properties = (azure.endpoint(target.endpoint_id) or {}).get("properties") or {}
    previous = {k: int(v) for k, v in (properties.get("traffic") or {}).items()}
    previous_mirror = {k: int(v) for k, v in (properties.get("mirrorTraffic") or {}).items()}
    unknown = sorted(set(previous) - {d.name for d in target.endpoint.deployments})
    if unknown or to not in {d.name for d in target.endpoint.deployments}:
        raise RolloutError(
            f"'{to}' or the live split's deployments ({', '.join(unknown) or 'none unknown'}) are not declared for "
            f"{target.endpoint.name} in Pulumi.{target.stack}.yaml; run `pulumi up` first"
        )
    # Azure refuses mirroring to a deployment that takes live traffic: the target stops being mirrored.
    mirror = {k: v for k, v in previous_mirror.items() if k != to}
    splits = plan(previous, to, steps)
    deployment_name = f"traffic-{target.endpoint.name}"
    _say(f"Rolling {target.endpoint.name} to {to}: {previous} -> " + " -> ".join(str(s) for s in splits))
    for split in splits:
        try:
            azure.deploy(target.resource_group, deployment_name, traffic_template(target, split, mirror))
            _say(f"  {split}: baking {bake}")
            started = now()
            sleep(bake.total_seconds())
            end = now()
            latency = azure.metrics(target.endpoint_id, "RequestLatency", f"deployment eq '{to}'", started, end)
            requests = azure.metrics(
                target.endpoint_id, "RequestsPerMinute", f"deployment eq '{to}' and statusCodeClass eq '*'", started, end
            )
            verdict = judge(health_from_metrics(latency, requests), limits)
        except RolloutError as error:
            verdict = Verdict(False, f"error: {error}")
        _say(f"  {to} at {split[to]}%: {verdict.reason}")
        if not verdict.healthy:
            return _restore(target, azure, deployment_name, previous, previous_mirror, verdict)
    _say(
        f"Rolled out: {target.endpoint.name} serves {splits[-1] if splits else previous}. Commit it to "
        f"Pulumi.{target.stack}.yaml (docs/progressive-rollout.md):\n\n"
        + _config_snippet(
            target.endpoint.name, splits[-1] if splits else previous, mirror, dropped=sorted(set(previous_mirror) - set(mirror))
        )
    )
    return 0


def _restore(target: Target, azure: Azure, deployment_name: str, traffic, mirror, verdict: Verdict) -> int:
    _say(f"Health check failed ({verdict.reason}); restoring {traffic}")
    try:
        azure.deploy(target.resource_group, deployment_name, traffic_template(target, traffic, mirror))
    except RolloutError as error:
        print(
            f"error: restoring {traffic} failed: {error}. Set it by hand: `pulumi up -s {target.stack}` deploys "
            "the split the stack file declares.",
            file=sys.stderr,
        )
        return 3
    _say(f"Restored {traffic}, the split the endpoint had before the rollout; nothing to commit.")
    return 2


def _config_snippet(endpoint: str, traffic: dict[str, int], mirror: dict[str, int], dropped: list[str]) -> str:
    lines = [f"    - name: {endpoint}", "      traffic:"] + [f"        {k}: {v}" for k, v in traffic.items()]
    if mirror:
        lines += ["      mirrorTraffic:"] + [f"        {k}: {v}" for k, v in mirror.items()]
    if dropped:
        lines.append(f"      # and drop {', '.join(dropped)} from mirrorTraffic: live traffic is never mirrored")
    return "\n".join(lines) + "\n"


# --- command line -----------------------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)([smh])", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration such as 30s, 10m or 1h")
    return timedelta(seconds=int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)])


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


def main(argv: list[str] | None = None, azure: AzCli | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azureml-endpoints rollout",
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 rolled out, 1 unusable input or the endpoint could not be read (nothing changed), "
        "2 a step failed and the previous split was restored, 3 restoring failed too.",
    )
    parser.add_argument("--stack", required=True, help="stack whose Pulumi.<stack>.yaml declares the endpoint")
    parser.add_argument("--endpoint", required=True, help="online endpoint name")
    parser.add_argument("--to", required=True, help="deployment that receives the traffic")
    parser.add_argument(
        "--steps", type=parse_steps, default=DEFAULT_STEPS, help="percentages for the target, ending at 100 (default 10,50,100)"
    )
    parser.add_argument("--bake", type=parse_duration, default=timedelta(minutes=10), help="wait before each health check (default 10m)")
    args = parser.parse_args(argv)
    azure = azure or AzCli()
    try:
        target = load_target(args.stack, args.endpoint, azure)
        alerts = target.settings.monitoring.alerts if target.settings.monitoring and target.settings.monitoring.alerts else AlertsConfig()
        return rollout(target, args.to, args.steps, args.bake, Thresholds.from_alerts(alerts), azure)
    except (RolloutError, SettingsError, FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
