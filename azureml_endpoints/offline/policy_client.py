"""Runs the policy pack the way the Pulumi engine does: as its own process, over the Analyzer gRPC protocol.

The engine starts `python -u -m pulumi.policy <engine> <pack dir>` in the pack directory, reads the port the
pack prints, calls GetAnalyzerInfo, Configure (every policy with an explicit enforcement level, from the
pack's defaults overlaid with the --policy-pack-config file), then Analyze per resource and AnalyzeStack.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from azureml_endpoints.offline.arm_mocks import Registration
from azureml_endpoints.paths import REPO, project_dir

PACK_DIR = REPO / "policies"
_LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED,
    "remediate": analyzer_pb2.REMEDIATE,
}
_LEVEL_NAMES = {v: k for k, v in _LEVELS.items()}


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # advisory | mandatory
    message: str
    urn: str

    @property
    def resource_name(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else "(stack)"


def policy_config_file(stack: str) -> Path:
    """A stack's policy levels belong to the project beside its stack file; the pack itself is the product's."""
    return project_dir() / "policies" / "config" / f"{stack}.json"


def load_policy_config(stack: str) -> dict[str, Any]:
    path = policy_config_file(stack)
    return json.loads(path.read_text()) if path.is_file() else {}


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    json_format.ParseDict(json.loads(json.dumps(value, default=str)), result)
    return result


class PolicyPackServer:
    """The pack as a child process and a gRPC stub to it; use as a context manager."""

    def __init__(self, pack_dir: Path = PACK_DIR, python: str = sys.executable, start_timeout: float = 60.0):
        self.pack_dir = pack_dir
        self.python = python
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.channel: grpc.Channel | None = None
        self.stub: analyzer_pb2_grpc.AnalyzerStub | None = None

    def __enter__(self) -> PolicyPackServer:
        self.process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
            cwd=self.pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = self.process.stdout.readline().decode().strip()
        if not line.isdigit():
            self.process.kill()
            stderr = self.process.stderr.read().decode()
            raise RuntimeError(f"the policy pack did not print its port (got {line!r}):\n{stderr}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=self.start_timeout)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self

    def __exit__(self, *exc) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process.stdout.close()
            self.process.stderr.close()

    # --- protocol ---------------------------------------------------------------------------------
    def info(self) -> analyzer_pb2.AnalyzerInfo:
        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: Mapping[str, Any]) -> dict[str, str]:
        """Sends every policy an explicit level and its properties (schema defaults under the file's values)."""
        levels = {}
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        info = self.info()
        known = {p.name for p in info.policies}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"policy config names policies the pack does not have: {', '.join(unknown)}")
        for policy in info.policies:
            entry = config.get(policy.name, {})
            if isinstance(entry, str):
                entry = {"enforcementLevel": entry}
            level = entry.get("enforcementLevel") or _LEVEL_NAMES[policy.enforcementLevel]
            properties = {
                key: schema["default"]
                for key, schema in json_format.MessageToDict(policy.configSchema.properties).items()
                if "default" in schema
            }
            properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
            request.policyConfig[policy.name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[level], properties=_struct(properties))
            )
            levels[policy.name] = level
        self.stub.Configure(request)
        return levels

    def analyze(self, resource: Registration) -> list[Violation]:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        # A resource policy's diagnostic concerns the analyzed resource; the engine attributes it the same way.
        return [v if v.urn else Violation(v.policy, v.level, v.message, resource.urn) for v in _violations(self.stub.Analyze(request))]

    def analyze_stack(self, resources: Iterable[Registration]) -> list[Violation]:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=_struct(r.inputs),
                    urn=r.urn,
                    name=r.name,
                    options=_options(r),
                    parent=r.parent,
                    dependencies=r.dependencies,
                    propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()},
                )
                for r in resources
            ]
        )
        return _violations(self.stub.AnalyzeStack(request))

    def check(self, resources: list[Registration], config: Mapping[str, Any]) -> list[Violation]:
        """Configure, Analyze every resource, then AnalyzeStack: one engine run of the pack."""
        self.configure(config)
        found = [v for r in resources for v in self.analyze(r)]
        return found + self.analyze_stack(resources)


def _options(r: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=r.ignore_changes,
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=r.delete_before_replace,
        parent=r.parent,
    )


def _violations(response: analyzer_pb2.AnalyzeResponse) -> list[Violation]:
    """The pack sends "<policy description>\\n<message>"; the description is the policy's, keep the message."""
    return [
        Violation(d.policyName, _LEVEL_NAMES[d.enforcementLevel], d.message.removeprefix(d.description + "\n"), d.urn)
        for d in response.diagnostics
    ]
