"""Registers an endpoint's template deployment: the endpoint re-sent, as declared, with its traffic or default.

An output, since a created workspace's name is one (and the template must wait for the workspace anyway).
"""

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import resources

from azureml_endpoints.azure.endpoint_template import template_document


def endpoint_template(
    collection: str,
    workspace_name: pulumi.Input[str],
    location: str,
    endpoint_name: str,
    tags: dict[str, str],
    properties: dict[str, Any],
    user_assigned_identity_id: str | None,
) -> pulumi.Output[dict[str, Any]]:
    """`template_document` for a workspace; an output, since a created workspace's name is one (and the template
    must wait for the workspace anyway)."""
    return pulumi.Output.from_input(workspace_name).apply(
        lambda name: template_document(collection, name, location, endpoint_name, tags, properties, user_assigned_identity_id)
    )


def redeploy_endpoint(
    name: str,
    resource_group: str,
    deployment_name: str,
    template: pulumi.Input[dict],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> resources.Deployment:
    return resources.Deployment(
        name,
        resources.DeploymentArgs(
            deployment_name=deployment_name,
            resource_group_name=resource_group,
            properties=resources.DeploymentPropertiesArgs(mode=resources.DeploymentMode.INCREMENTAL, template=template),
        ),
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
