"""Builds the REST request bodies Microsoft's azure-ai-ml SDK sends for endpoint, deployment and compute definitions.

Runs inside the azure-ai-ml environment (tests/test_request_bodies.py builds it; azure-ai-ml cannot join the
program's venv: its opentelemetry pins clash with pulumi's). Reads a JSON list of {"kind", "args"} on stdin
and prints the list of bodies, each from the entity's own offline REST conversion (no network).
"""

import json
import sys

from azure.ai.ml.entities import (
    AmlCompute,
    BatchEndpoint,
    BatchRetrySettings,
    CodeConfiguration,
    Environment,
    IdentityConfiguration,
    ManagedIdentityConfiguration,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
    OnlineRequestSettings,
    ProbeSettings,
    ResourceConfiguration,
)


def identity(spec):
    if spec is None:
        return None
    if spec["type"] == "SystemAssigned":
        return IdentityConfiguration(type="system_assigned")
    return IdentityConfiguration(
        type="user_assigned", user_assigned_identities=[ManagedIdentityConfiguration(resource_id=i) for i in spec["ids"]]
    )


def probe(spec):
    return ProbeSettings(**spec) if spec else None


def body(kind, a):
    if kind == "online_endpoint":
        entity = ManagedOnlineEndpoint(
            name=a["name"],
            auth_mode=a["auth_mode"],
            identity=identity(a["identity"]),
            tags=a["tags"],
            public_network_access=a.get("public_network_access"),
        )
        return entity._to_rest_online_endpoint(a["location"]).as_dict()
    if kind == "online_deployment":
        request = a.get("request_settings")
        entity = ManagedOnlineDeployment(
            name=a["name"],
            endpoint_name=a["endpoint_name"],
            model=a["model"],
            environment=a["environment"],
            code_configuration=CodeConfiguration(code=a["code"], scoring_script=a["scoring_script"]),
            instance_type=a["instance_type"],
            instance_count=a["instance_count"],
            environment_variables=a["environment_variables"],
            app_insights_enabled=a["app_insights_enabled"],
            tags=a["tags"],
            request_settings=OnlineRequestSettings(**request) if request else None,
            liveness_probe=probe(a.get("liveness_probe")),
            readiness_probe=probe(a.get("readiness_probe")),
        )
        return entity._to_rest_object(a["location"]).as_dict()
    if kind == "batch_endpoint":
        entity = BatchEndpoint(name=a["name"], description=a["description"], tags=a["tags"])
        return entity._to_rest_batch_endpoint(a["location"]).as_dict()
    if kind == "batch_deployment":
        s = a["settings"]
        entity = ModelBatchDeployment(
            name=a["name"],
            endpoint_name=a["endpoint_name"],
            model=a["model"],
            environment=a["environment"],
            code_configuration=CodeConfiguration(code=a["code"], scoring_script=a["scoring_script"]),
            compute=a["compute"],
            resources=ResourceConfiguration(instance_count=a["instance_count"]),
            tags=a["tags"],
            settings=ModelBatchDeploymentSettings(
                max_concurrency_per_instance=s["max_concurrency_per_instance"],
                mini_batch_size=s["mini_batch_size"],
                output_action=s["output_action"],
                output_file_name=s["output_file_name"],
                retry_settings=BatchRetrySettings(max_retries=s["max_retries"], timeout=s["timeout"]),
                error_threshold=s["error_threshold"],
                logging_level=s["logging_level"],
            ),
        )
        return entity._to_rest_object(a["location"]).as_dict()
    if kind == "compute":
        entity = AmlCompute(
            name=a["name"],
            size=a["size"],
            min_instances=a["min_instances"],
            max_instances=a["max_instances"],
            idle_time_before_scale_down=a["idle_seconds"],
            tier=a["tier"],
            identity=identity(a["identity"]),
            location=a["location"],
            tags=a["tags"],
        )
        return entity._to_rest_object().as_dict()
    if kind == "model":
        entity = Model(name=a["name"], version=a["version"], path=a["path"], type=a["type"], description=a["description"], tags=a["tags"])
        return entity._to_rest_object().as_dict()
    if kind == "environment":
        entity = Environment(
            name=a["name"], version=a["version"], image=a["image"], conda_file=a["conda_file"], description=a["description"]
        )
        return entity._to_rest_object().as_dict()
    raise SystemExit(f"unknown kind {kind}")


print(json.dumps([body(item["kind"], item["args"]) for item in json.load(sys.stdin)]))
