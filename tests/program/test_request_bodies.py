"""Every ARM request body the program sends, against the body Microsoft's azure-ai-ml SDK builds for the same definition.

azure-native sends a resource's inputs, less the names that go into the URL, as the ARM request body. For each
kind (online endpoint and deployment, batch endpoint and deployment, compute cluster, model and environment
versions; a private stack's workspace with its managed network, each outbound rule, and the workspace's private
endpoint), the test builds the same definition with azure-ai-ml's entities, from the stack's config and the
ids the program wired, and lets the SDK build its REST body offline (tests/support/aml_sdk_bodies.py, in its own venv).
The workspace private endpoint azure-ai-ml deploys is the one of its ARM template (workspace_base.json), read
with its expressions resolved. Normalisation covers encodings only (numbers, ISO 8601 spellings, azure-native's
identity list, azure-native's flattening of `properties`); every other difference must be one listed in
DELIBERATE, with its reason: docs/testing.md#request-bodies-against-azure-ai-ml.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from azureml_endpoints.local.runtime import requirements_env
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import REPO
from azureml_endpoints.pulumi_io.stack_files import stack_config
from tests.support.azure_ai_ml import sdk_bodies
from tests.support.private_stacks import REGISTRY_ID, with_registry_model

NS = "azureml-endpoints:"
ML = "azure-native:machinelearningservices:"
# Inputs azure-native puts into the request URL, not the body.
URL_INPUTS = {
    "resourceGroupName",
    "workspaceName",
    "endpointName",
    "deploymentName",
    "computeName",
    "name",
    "version",
    "ruleName",
    "privateEndpointName",
}
# Resources whose ARM body nests most fields under `properties`, which azure-native's inputs flatten:
# type -> the fields that stay at the top (the rest go under properties), and the nested lists/objects that flatten too.
FLATTENED = {
    ML + "Workspace": ({"identity", "location", "tags", "sku", "kind"}, {}),
    "azure-native:network:PrivateEndpoint": ({"location", "tags"}, {"privateLinkServiceConnections": {"name"}, "subnet": {"id"}}),
}

# path in the body -> (what the program sends, what azure-ai-ml sends, why the program differs)
DELIBERATE: dict[str, dict[str, str]] = {
    "online_endpoint": {
        "properties.traffic": "the program omits it, the SDK sends {}: traffic belongs to the traffic template after the deployments exist (docs/online-endpoints.md#traffic); an empty map on every update would take all traffic away",
        "properties.mirrorTraffic": "as traffic",
    },
    "online_deployment": {
        "properties.egressPublicNetworkAccess": "the program states Enabled, the service default the SDK leaves implicit: network exposure is a stated decision",
        "properties.scaleSettings": "the program states scaleType Default (the only managed type without autoscale rules); the SDK leaves it to the service default, which is the same",
    },
    "batch_endpoint": {
        "properties.authMode": "the program sends AADToken, the REST API's enum spelling (EndpointAuthMode); the SDK's batch endpoint sends aadToken, which the service reads case-insensitively",
        "identity": "the program states SystemAssigned, the only identity batch endpoints accept; the SDK sends none and the service assigns it",
    },
    "batch_deployment": {},
    "compute": {},
    "model": {},
    "environment": {
        "properties.osType": "the program states Linux (the SDK's default, left implicit)",
        "properties.autoRebuild": "the program sends Disabled: an unchanged environment version never rebuilds to a new image behind the stack's back; the SDK leaves the service default (OnBaseImageUpdate)",
    },
    "private_workspace": {
        "name": "the workspace's name goes into the URL, as azure-native sends it; the SDK's model carries it in the body too, where ARM reads it as read-only",
        "properties.managedNetwork.outboundRules": "the program sends each rule as its own workspaces/outboundRules resource (compared below as outbound_rule, the body the SDK's workspace_outbound_rules.begin_create sends), so a rule waits for the account it targets and adding one never PUTs the workspace; the SDK inlines them in the workspace body",
        "properties.managedNetwork.enableNetworkMonitor": "azure-native 3.29.0 fills its input default false; the SDK leaves it out, and the service default is the same (off)",
        "kind": "the SDK states kind default; the program leaves it out, which the service reads as the same default workspace kind",
        "properties.hbiWorkspace": "the SDK states false (its default); the program leaves the service default, the same",
        "properties.enableDataIsolation": "the SDK states false (its default); the program leaves the service default, the same",
    },
    "outbound_rule": {},
    "workspace_private_endpoint": {
        "properties.privateLinkServiceConnections.0.name": "the program names each connection after its endpoint (pe-<resource>-<group>), as for the vault and blob endpoints; the template names it <workspace>-PrivateEndpoint; the name is free text",
        "properties.subnet.properties": "azure-native 3.29.0's SubnetArgs fills its input defaults (privateEndpointNetworkPolicies Disabled, privateLinkServiceNetworkPolicies Enabled) into the subnet reference; the template sends the id only, and a private endpoint reads only the id of the subnet it names",
    },
}

AUTH_MODES = {"Key": "key", "AMLToken": "aml_token", "AADToken": "aad_token"}


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    requirements = [
        line for line in (REPO / "tests/support/azure-ai-ml-requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    ]
    return requirements_env("azure-ai-ml", requirements)


def seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    h, m, s = (int(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s


def normalise(value, key: str = ""):
    """Encodings only: integral floats (the engine sends numbers as floats), ISO 8601 durations as seconds,
    azure-native's list of user-assigned identity ids as the map ARM receives, the conda file as YAML, empty
    maps (other than traffic) as absent."""
    if key == "userAssignedIdentities":  # a list in azure-native's inputs, the map {id: {}} on the wire
        return {i: "assigned" for i in value}
    if key == "condaFile":  # the same YAML document, spelled by the file or by the SDK's yaml.dump
        return yaml.safe_load(value) if isinstance(value, str) else value
    if isinstance(value, dict):
        out = {k: normalise(v, k) for k, v in value.items() if v is not None}
        # An empty traffic map is not an encoding: on an endpoint PUT it means "no traffic".
        return {k: v for k, v in out.items() if v != {} or k in ("traffic", "mirrorTraffic")}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"PT[\dHMS]+", value):
        return f"{seconds(value)}s"
    return value


def flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        value = dict(enumerate(value))  # lists of objects by index: a difference names the field that differs
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def arm_shape(value: dict, top_level: set[str]) -> dict:
    """azure-native's flattened inputs in ARM's shape: the fields outside `top_level` under `properties`."""
    inner = {k: v for k, v in value.items() if k not in top_level}
    return {**{k: v for k, v in value.items() if k in top_level}, **({"properties": inner} if inner else {})}


def program_body(registration) -> dict:
    body = {k: v for k, v in registration.inputs.items() if k not in URL_INPUTS}
    if registration.type in FLATTENED:
        top_level, nested = FLATTENED[registration.type]
        for key, keep in nested.items():
            if isinstance(body.get(key), list):
                body[key] = [arm_shape(item, keep) for item in body[key]]
            elif isinstance(body.get(key), dict):
                body[key] = arm_shape(body[key], keep)
        body = arm_shape(body, top_level)
    return normalise(body)


def differences(program: dict, sdk: dict) -> dict[str, tuple]:
    a, b = flatten(program), flatten(normalise(sdk))
    diff = {}
    for path in sorted(set(a) | set(b)):
        if a.get(path) != b.get(path):
            diff[path] = (a.get(path, "<absent>"), b.get(path, "<absent>"))
    return diff


def top(path: str, kind: str) -> str | None:
    """The DELIBERATE entry a differing path falls under (itself or a parent)."""
    for listed in DELIBERATE[kind]:
        if path == listed or path.startswith(listed + "."):
            return listed
    return None


def identity_spec(inputs: dict):
    ident = inputs.get("identity")
    if not ident:
        return None
    return {"type": ident["type"], "ids": ident.get("userAssignedIdentities", [])}


def probe(spec: dict | None):
    if not spec:
        return None
    return {
        "initial_delay": seconds(spec["initialDelay"]),
        "period": seconds(spec["period"]),
        "timeout": seconds(spec["timeout"]),
        "failure_threshold": spec["failureThreshold"],
        "success_threshold": spec["successThreshold"],
    }


def storage_id(evaluation, account_name: str) -> str:
    (account,) = [r for r in evaluation.of_type("azure-native:storage:StorageAccount") if r.inputs["accountName"] == account_name]
    return account.id


def sdk_rule(rule: dict) -> dict:
    """A user-declared rule of the stack's config as the SDK's entity takes it."""
    if rule["type"] == "ServiceTag":
        return {
            "name": rule["name"],
            "type": "ServiceTag",
            "service_tag": rule["serviceTag"],
            "protocol": rule["protocol"],
            "port_ranges": rule["portRanges"],
        }
    return {"name": rule["name"], "type": "FQDN", "destination": rule["destination"]}


def private_definitions(evaluation, config: dict):
    """For a stack with `network`: the managed network's rules, and, when the stack creates the workspace, the
    workspace with its managed network and its private endpoint (a looked-up workspace's are its owner's)."""
    network, ws = config[NS + "network"], config[NS + "workspace"]
    created = ws.get("create") is True
    default_storage = (
        storage_id(evaluation, ws["storageAccountName"])
        if created
        else evaluation.mocks.workspace(ws["resourceGroup"], ws["name"]).storage_account_id
    )
    # "Managed virtual network isolation": a private endpoint rule to each account the endpoints read, and the
    # default storage's queue and table when the stack has batch endpoints.
    targets = [(storage_id(evaluation, config[NS + "dataStorage"]["accountName"]), "blob")]
    if config.get(NS + "batchEndpoints"):
        targets += [(default_storage, s) for s in ("queue", "table")]
    # "Network isolation with Azure Machine Learning registries": one to each registry the stack lists, by its ARM id
    # (the sub-resource from "Azure Private Endpoint private DNS zone values").
    targets += [(r["resourceId"], "amlregistry") for r in network.get("registries", [])]
    registered = {r.inputs["ruleName"]: r for r in evaluation.of_type(ML + "ManagedNetworkSettingsRule")}
    # The program's name for each derived rule, by what it targets (the names are the program's choice).
    destinations = {
        n: r.inputs["properties"]["destination"] for n, r in registered.items() if r.inputs["properties"]["type"] == "PrivateEndpoint"
    }
    named = {(d["serviceResourceId"], d["subresourceTarget"]): n for n, d in destinations.items()}
    rules = [
        {"name": named.get(t, "<missing>"), "type": "PrivateEndpoint", "service_resource_id": t[0], "subresource_target": t[1]}
        for t in targets
    ]
    rules += [sdk_rule(r) for r in network.get("outboundRules", [])]
    assert {r["name"] for r in rules} == set(registered), "the program's rules are the ones the stack derives and declares"
    pairs = [("outbound_rule", registered[r["name"]], r) for r in rules]
    if not created:
        assert evaluation.of_type(ML + "Workspace") == []
        return pairs
    (workspace,) = evaluation.of_type(ML + "Workspace")
    inputs = workspace.inputs
    has_fqdn = any(r["type"] == "FQDN" for r in rules)
    pairs += [
        (
            "private_workspace",
            workspace,
            {
                "name": ws["name"],
                "location": inputs["location"],
                "tags": inputs["tags"],
                "identity": identity_spec(inputs),
                "primary_user_assigned_identity": inputs["primaryUserAssignedIdentity"],
                "storage_account": storage_id(evaluation, ws["storageAccountName"]),
                "key_vault": inputs["keyVault"],
                "container_registry": inputs["containerRegistry"],
                "application_insights": inputs["applicationInsights"],
                "system_datastores_auth_mode": ws["systemDatastoresAuthMode"],
                "public_network_access": ws["publicNetworkAccess"],
                "image_build_compute": network.get("imageBuildCompute"),
                "isolation_mode": network.get("isolationMode", "AllowOnlyApprovedOutbound"),
                "firewall_sku": network.get("firewallSku", "Standard") if has_fqdn else None,
                "outbound_rules": rules,
            },
        )
    ]
    (endpoint,) = [
        r
        for r in evaluation.of_type("azure-native:network:PrivateEndpoint")
        if r.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["amlworkspace"]
    ]
    pairs.append(
        (
            "workspace_private_endpoint",
            endpoint,
            {
                "workspace_name": ws["name"],
                "workspace_id": workspace.id,
                "subnet_id": network["privateEndpointSubnetId"],
                "location": endpoint.inputs["location"],
                "tags": endpoint.inputs["tags"],
            },
        )
    )
    return pairs


def definitions_for(stack: str, config: dict | None = None):
    """(kind, program registration, SDK definition) for every resource of the kinds above, from config and wired ids."""
    evaluation = evaluate(stack, config=config)
    config = config or stack_config(stack)
    pairs = private_definitions(evaluation, config) if NS + "network" in config else []
    for endpoint in config.get(NS + "onlineEndpoints", []):
        reg = [r for r in evaluation.of_type(ML + "OnlineEndpoint") if r.inputs["endpointName"] == endpoint["name"]][0]
        pairs.append(
            (
                "online_endpoint",
                reg,
                {
                    "name": endpoint["name"],
                    "auth_mode": AUTH_MODES[endpoint["authMode"]],
                    "identity": identity_spec(reg.inputs),
                    "tags": reg.inputs["tags"],
                    "public_network_access": endpoint.get("publicNetworkAccess"),
                    "location": reg.inputs["location"],
                },
            )
        )
        for d in endpoint["deployments"]:
            dep = [
                r
                for r in evaluation.of_type(ML + "OnlineDeployment")
                if r.inputs["endpointName"] == endpoint["name"] and r.inputs["deploymentName"] == d["name"]
            ][0]
            p = dep.inputs["properties"]
            rs = d.get("requestSettings")
            pairs.append(
                (
                    "online_deployment",
                    dep,
                    {
                        "name": d["name"],
                        "endpoint_name": endpoint["name"],
                        "model": p["model"],
                        "environment": p["environmentId"],
                        "code": p["codeConfiguration"]["codeId"],
                        "scoring_script": d.get("scoringScript", "score_managedidentity.py"),
                        "instance_type": d["instanceType"],
                        "instance_count": int(dep.inputs["sku"]["capacity"]),
                        "environment_variables": p["environmentVariables"],
                        "tags": dep.inputs["tags"],
                        "location": dep.inputs["location"],
                        "app_insights_enabled": p.get("appInsightsEnabled", False),
                        "request_settings": rs
                        and {
                            "request_timeout_ms": seconds(rs["requestTimeout"]) * 1000,
                            "max_queue_wait_ms": seconds(rs["maxQueueWait"]) * 1000,
                            "max_concurrent_requests_per_instance": rs["maxConcurrentRequestsPerInstance"],
                        },
                        "liveness_probe": probe(d.get("livenessProbe") and p["livenessProbe"]),
                        "readiness_probe": probe(d.get("readinessProbe") and p["readinessProbe"]),
                    },
                )
            )
    for endpoint in config.get(NS + "batchEndpoints", []):
        reg = [r for r in evaluation.of_type(ML + "BatchEndpoint") if r.inputs["endpointName"] == endpoint["name"]][0]
        pairs.append(
            (
                "batch_endpoint",
                reg,
                {
                    "name": endpoint["name"],
                    "description": endpoint.get("description"),
                    "tags": reg.inputs["tags"],
                    "location": reg.inputs["location"],
                },
            )
        )
        c = endpoint["compute"]
        compute = [r for r in evaluation.of_type(ML + "Compute") if r.inputs["computeName"] == c["name"]][0]
        pairs.append(
            (
                "compute",
                compute,
                {
                    "name": c["name"],
                    "size": c["vmSize"],
                    "min_instances": c.get("minNodes", 0),
                    "max_instances": c["maxNodes"],
                    "idle_seconds": c.get("idleSecondsBeforeScaleDown", 120),
                    "tier": {"Dedicated": "dedicated", "LowPriority": "low_priority"}[c.get("vmPriority", "Dedicated")],
                    # In a workspace's managed network the nodes take no public IP ("Managed virtual network isolation").
                    "enable_node_public_ip": NS + "network" not in config,
                    "identity": identity_spec(compute.inputs),
                    "location": compute.inputs["location"],
                    "tags": compute.inputs["tags"],
                },
            )
        )
        for d in endpoint["deployments"]:
            dep = [
                r
                for r in evaluation.of_type(ML + "BatchDeployment")
                if r.inputs["endpointName"] == endpoint["name"] and r.inputs["deploymentName"] == d["name"]
            ][0]
            p = dep.inputs["properties"]
            retry = d.get("retrySettings", {"maxRetries": 3, "timeout": "PT30S"})
            pairs.append(
                (
                    "batch_deployment",
                    dep,
                    {
                        "name": d["name"],
                        "endpoint_name": endpoint["name"],
                        "model": p["model"]["assetId"],
                        "environment": p["environmentId"],
                        "code": p["codeConfiguration"]["codeId"],
                        "scoring_script": d.get("scoringScript", "batch_driver.py"),
                        "compute": p["compute"],
                        "instance_count": d.get("instanceCount", 1),
                        "tags": dep.inputs["tags"],
                        "location": dep.inputs["location"],
                        "settings": {
                            "max_concurrency_per_instance": d.get("maxConcurrencyPerInstance", 4),
                            "mini_batch_size": d.get("miniBatchSize", 5),
                            "output_action": {"AppendRow": "append_row", "SummaryOnly": "summary_only"}[d.get("outputAction", "AppendRow")],
                            "output_file_name": d.get("outputFileName", "predictions.csv"),
                            "max_retries": retry["maxRetries"],
                            "timeout": seconds(retry["timeout"]),
                            "error_threshold": d.get("errorThreshold", 10),
                            "logging_level": d.get("loggingLevel", "Info"),
                        },
                    },
                )
            )
    for model in evaluation.of_type(ML + "ModelVersion"):
        p = model.inputs["properties"]
        pairs.append(
            (
                "model",
                model,
                {
                    "name": model.inputs["name"],
                    "version": model.inputs["version"],
                    "path": p["modelUri"],
                    "type": p["modelType"],
                    "description": p["description"],
                    "tags": p.get("tags"),
                },
            )
        )
    for env in evaluation.of_type(ML + "EnvironmentVersion"):
        p = env.inputs["properties"]
        pairs.append(
            (
                "environment",
                env,
                {
                    "name": env.inputs["name"],
                    "version": env.inputs["version"],
                    "image": p["image"],
                    "conda_file": yaml.safe_load(p["condaFile"]),
                    "description": p["description"],
                },
            )
        )
    return pairs


def with_fqdn_rule(stack: str) -> dict:
    """A private stack's config with an FQDN rule too, so each of the SDK's three rule kinds is compared."""
    config = stack_config(stack)
    network = config[NS + "network"]
    return {
        **config,
        NS + "network": {
            **network,
            "outboundRules": [*network["outboundRules"], {"name": "pypi", "type": "FQDN", "destination": "pypi.org"}],
        },
    }


def test_request_bodies_match_azure_ai_ml_except_the_documented_differences(sdk_python):
    pairs = [pair for stack in ("dev", "prod", "sai-example", "sandbox-private") for pair in definitions_for(stack)]
    for variant in (with_fqdn_rule("sandbox-private"), with_registry_model(stack_config("sandbox-private"))):
        pairs += [p for p in definitions_for("sandbox-private", variant) if p[0] in ("private_workspace", "outbound_rule")]
    assert {kind for kind, *_ in pairs} == set(DELIBERATE)
    bodies = sdk_bodies(sdk_python, [{"kind": kind, "args": args} for kind, _, args in pairs])
    unexplained, seen = {}, set()
    for (kind, registration, _), sdk in zip(pairs, bodies):
        for path, (ours, theirs) in differences(program_body(registration), sdk).items():
            listed = top(path, kind)
            if listed is None:
                unexplained[f"{kind} {registration.name}: {path}"] = (ours, theirs)
            seen.add((kind, listed))
    assert unexplained == {}, json.dumps(unexplained, indent=1, default=str)
    # Every documented difference still exists: the table never describes a difference that is gone.
    assert seen - {(k, None) for k in DELIBERATE} == {(k, p) for k, paths in DELIBERATE.items() for p in paths}


def test_the_comparison_catches_a_changed_body(sdk_python):
    (kind, registration, args), *_ = [p for p in definitions_for("dev") if p[0] == "compute"]
    (sdk,) = sdk_bodies(sdk_python, [{"kind": kind, "args": {**args, "max_instances": 6}}])
    assert differences(program_body(registration), sdk) == {"properties.properties.scaleSettings.maxNodeCount": (5, 6)}


def test_the_workspace_template_adds_no_dns_zone_group(sdk_python):
    """azure-ai-ml's template creates the workspace's private endpoint without a zone group (DNS is the caller's), so
    the program's group (both zones, docs/private-networking.md#dns-modes) has no SDK body to compare with; if the
    template gains one, this fails and the comparison above must take it in."""
    (types,) = sdk_bodies(sdk_python, [{"kind": "template_resource_types", "args": {}}])
    assert "Microsoft.Network/privateEndpoints" in types
    assert not [t for t in types if "privateDnsZoneGroups" in t]


def test_the_registry_rule_is_compared_with_the_sdks(sdk_python):
    (kind, registration, args), *_ = [
        p
        for p in definitions_for("sandbox-private", with_registry_model(stack_config("sandbox-private")))
        if p[0] == "outbound_rule" and p[2].get("service_resource_id") == REGISTRY_ID
    ]
    assert (registration.inputs["ruleName"], args["subresource_target"]) == ("registry-shared-models", "amlregistry")
    (sdk,) = sdk_bodies(sdk_python, [{"kind": kind, "args": args}])
    assert differences(program_body(registration), sdk) == {}
    assert sdk["properties"]["destination"] == {"serviceResourceId": REGISTRY_ID, "subresourceTarget": "amlregistry", "sparkEnabled": False}


def test_the_comparison_catches_a_changed_outbound_rule(sdk_python):
    (kind, registration, args), *_ = [
        p for p in definitions_for("sandbox-private") if p[0] == "outbound_rule" and p[2]["type"] == "PrivateEndpoint"
    ]
    (sdk,) = sdk_bodies(sdk_python, [{"kind": kind, "args": {**args, "subresource_target": "file"}}])
    assert differences(program_body(registration), sdk) == {
        "properties.destination.subresourceTarget": (args["subresource_target"], "file")
    }
