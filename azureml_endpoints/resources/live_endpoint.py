"""What Azure holds now for an online endpoint and its deployments, read during `up` and preview.

azure-native updates a resource with a full PUT whenever its REST path has one (pulumi/pulumi-azure-native
provider/pkg/gen/schema.go: PATCH only where the path has no PUT; provider/pkg/provider/crud/crud.go), and
`OnlineEndpoints_CreateOrUpdate` and `OnlineDeployments_CreateOrUpdate` are PUTs. So what an update leaves
out Azure resets: an endpoint PUT without `traffic` sets every deployment to 0 % until traffic is set again
(microsoft/genaiops-promptflow-template#182), and a deployment PUT sets the capacity it names. Microsoft's own
clients read before they write: `az ml online-endpoint update` gets the endpoint and re-sends it with its
traffic (Azure/azure-cli-extensions src/machinelearningservices/azext_mlv2/manual/custom/online_endpoint.py),
the SDK samples `get` the endpoint, change `traffic` and call `begin_create_or_update`. The program does the
same: it reads the endpoint's current split and each deployment's current capacity, and every later PUT
carries them (docs/online-endpoints.md#traffic, docs/operability.md#autoscale).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import machinelearningservices as ml

# How a 404 reaches the program: azure-native's azcore errors print "RESPONSE 404: 404 Not Found" (azcore
# ResponseError.Error), its autorest ones "StatusCode=404" (pulumi-azure-native provider/pkg/azure/azure.go IsNotFound
# accepts both).
_NOT_FOUND = re.compile(r"RESPONSE 404\b|Status(?:Code)?=404\b")


@dataclass(frozen=True)
class LiveEndpoint:
    """An endpoint that exists in Azure: its split and mirror now, and the capacity of each deployment that exists."""

    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    capacities: dict[str, int] = field(default_factory=dict)


def _absent(error: Exception) -> bool:
    return bool(_NOT_FOUND.search(str(error)))


def _read(resource_group: str, workspace_name: str, endpoint_name: str, deployment_names: list[str]) -> LiveEndpoint | None:
    try:
        found = ml.get_online_endpoint(endpoint_name=endpoint_name, resource_group_name=resource_group, workspace_name=workspace_name)
    except Exception as error:  # noqa: BLE001 only "not found" means absent; any other error stops the run
        if _absent(error):
            return None
        raise
    capacities = {}
    for name in deployment_names:
        try:
            deployment = ml.get_online_deployment(
                deployment_name=name, endpoint_name=endpoint_name, resource_group_name=resource_group, workspace_name=workspace_name
            )
        except Exception as error:  # noqa: BLE001 as above
            if _absent(error):
                continue
            raise
        if deployment.sku is not None and deployment.sku.capacity is not None:
            capacities[name] = int(deployment.sku.capacity)
    properties = found.properties
    return LiveEndpoint(
        traffic={k: int(v) for k, v in (properties.traffic or {}).items()},
        mirror_traffic={k: int(v) for k, v in (properties.mirror_traffic or {}).items()},
        capacities=capacities,
    )


def live_endpoint(
    resource_group: str, workspace_name: pulumi.Input[str], endpoint_name: str, deployment_names: list[str]
) -> pulumi.Output[LiveEndpoint | None]:
    """The endpoint as Azure has it now, or None when it does not exist yet (the first `up`, or a workspace the
    stack creates in this `up`). Read with direct invokes (not the output form) so that "not found" can be told
    from a failure; a created workspace's name is an output, so the read waits for it."""
    return pulumi.Output.from_input(workspace_name).apply(lambda name: _read(resource_group, name, endpoint_name, deployment_names))
