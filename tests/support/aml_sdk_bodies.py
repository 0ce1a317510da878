"""Builds the REST request bodies Microsoft's azure-ai-ml SDK sends for endpoint, deployment, compute and workspace
definitions, and the workspace private endpoint of its ARM template (workspace_base.json).

Runs inside the azure-ai-ml environment (tests/test_request_bodies.py builds it; azure-ai-ml cannot join the
program's venv: its opentelemetry pins clash with pulumi's). Reads a JSON list of {"kind", "args"} on stdin
and prints the list of bodies, each from the entity's own offline REST conversion (no network).
"""

import json
import sys
from importlib.resources import files

import yaml
from azure.ai.ml import load_batch_deployment, load_batch_endpoint, load_compute
from azure.ai.ml._restclient.arm_ml_service.models import OutboundRuleBasicResource
from azure.ai.ml.entities import (
    AmlCompute,
    BatchEndpoint,
    BatchRetrySettings,
    CodeConfiguration,
    Environment,
    FqdnDestination,
    IdentityConfiguration,
    ManagedIdentityConfiguration,
    ManagedNetwork,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
    OnlineRequestSettings,
    PrivateEndpointDestination,
    ProbeSettings,
    ResourceConfiguration,
    ServiceTagDestination,
    Workspace,
)
from azure.ai.ml.entities._load_functions import load_model_batch_deployment

# The template azure-ai-ml deploys a workspace with; its private endpoint is the one Microsoft's client builds.
WORKSPACE_TEMPLATE = files("azure.ai.ml._arm_deployments.arm_templates") / "workspace_base.json"


def identity(spec):
    if spec is None:
        return None
    if spec["type"] == "SystemAssigned":
        return IdentityConfiguration(type="system_assigned")
    if spec["type"] == "SystemAssigned,UserAssigned":
        return IdentityConfiguration(
            type="system_assigned,user_assigned",
            user_assigned_identities=[ManagedIdentityConfiguration(resource_id=i) for i in spec["ids"]],
        )
    return IdentityConfiguration(
        type="user_assigned", user_assigned_identities=[ManagedIdentityConfiguration(resource_id=i) for i in spec["ids"]]
    )


def probe(spec):
    return ProbeSettings(**spec) if spec else None


def outbound_rule(rule):
    """The SDK's rule entity for {"name", "type", ...} (ServiceTag, FQDN or PrivateEndpoint)."""
    if rule["type"] == "PrivateEndpoint":
        return PrivateEndpointDestination(
            name=rule["name"], service_resource_id=rule["service_resource_id"], subresource_target=rule["subresource_target"]
        )
    if rule["type"] == "ServiceTag":
        return ServiceTagDestination(
            name=rule["name"], service_tag=rule["service_tag"], protocol=rule["protocol"], port_ranges=rule["port_ranges"]
        )
    return FqdnDestination(name=rule["name"], destination=rule["destination"])


def template_value(value, a, variables):
    """The template's private endpoint with its expressions resolved for one workspace. Only the expressions the
    resource uses today are known: a changed template stops the comparison instead of passing unread."""
    if isinstance(value, dict):
        return {k: template_value(v, a, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [template_value(v, a, variables) for v in value]
    if not (isinstance(value, str) and value.startswith("[")):
        return value
    known = {
        "[parameters('location')]": a["location"],
        "[parameters('tagValues')]": a["tags"],
        "[variables('subnet')]": a["subnet_id"],
        "[concat(parameters('workspaceName'), '-PrivateEndpoint')]": f"{a['workspace_name']}-PrivateEndpoint",
        "[resourceId('Microsoft.MachineLearningServices/workspaces', parameters('workspaceName'))]": a["workspace_id"],
    }
    if value == "[if(equals(parameters('privateEndpointType'), 'ManualApproval'), variables('defaultPEConnections'), json('null'))]":
        return None
    # privateEndpointType AutoApproval: the deployer owns the workspace, as the program's endpoints assume.
    if value == "[if(equals(parameters('privateEndpointType'), 'AutoApproval'), variables('defaultPEConnections'), json('null'))]":
        return [template_value(variables["privateEndpointSettings"], a, variables)]
    if value not in known:
        raise SystemExit(f"workspace_base.json: unknown expression {value}")
    return known[value]


def template_resources(resources):
    """Every resource the template declares, those of its nested deployments included."""
    for r in resources:
        yield r
        yield from template_resources(r.get("properties", {}).get("template", {}).get("resources", []))


def template_private_endpoint(a):
    template = json.loads(WORKSPACE_TEMPLATE.read_text())
    (endpoint,) = [r for r in template_resources(template["resources"]) if r["type"] == "Microsoft.Network/privateEndpoints"]
    return template_value({k: endpoint[k] for k in ("location", "tags", "properties")}, a, template["variables"])


def from_yaml(a):
    """What `az ml <kind> create -f <file>` sends: the entity azure-ai-ml loads from the file, with the ids of
    the assets it would have registered or resolved (`set`) and the request's location and tags."""
    kind, path = a["yaml"], a["file"]
    if kind == "batch_endpoint":
        entity = load_batch_endpoint(source=path)
    elif kind == "compute":
        entity = load_compute(source=path)
    else:
        model = (yaml.safe_load(open(path)) or {}).get("type") == "model"
        entity = (load_model_batch_deployment if model else load_batch_deployment)(source=path)
    for key, value in a.get("set", {}).items():
        if key == "code":
            entity.code_configuration = CodeConfiguration(code=value, scoring_script=entity.code_configuration.scoring_script)
        else:
            setattr(entity, key, value)
    if kind == "batch_endpoint":
        return entity._to_rest_batch_endpoint(a["location"]).as_dict()
    if kind == "compute":
        return entity._to_rest_object().as_dict()
    return entity._to_rest_object(a["location"]).as_dict()


def body(kind, a):
    if kind == "yaml":
        return from_yaml(a)
    if kind == "private_workspace":
        entity = Workspace(
            name=a["name"],
            location=a["location"],
            tags=a["tags"],
            identity=identity(a["identity"]),
            primary_user_assigned_identity=a["primary_user_assigned_identity"],
            storage_account=a["storage_account"],
            key_vault=a["key_vault"],
            container_registry=a["container_registry"],
            application_insights=a["application_insights"],
            system_datastores_auth_mode=a["system_datastores_auth_mode"],
            public_network_access=a["public_network_access"],
            image_build_compute=a["image_build_compute"],
            provision_network_now=True,
            managed_network=ManagedNetwork(
                isolation_mode=a["isolation_mode"],
                firewall_sku=a["firewall_sku"],
                outbound_rules=[outbound_rule(r) for r in a["outbound_rules"]],
            ),
        )
        return entity._to_rest_object().as_dict()
    if kind == "outbound_rule":
        # What ml_client.workspace_outbound_rules.begin_create sends for one rule (workspaces/outboundRules PUT).
        return OutboundRuleBasicResource(properties=outbound_rule(a)._to_rest_object()).as_dict()
    if kind == "workspace_private_endpoint":
        return template_private_endpoint(a)
    if kind == "template_resource_types":
        return sorted({r["type"] for r in template_resources(json.loads(WORKSPACE_TEMPLATE.read_text())["resources"])})
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
            enable_node_public_ip=a["enable_node_public_ip"],
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
