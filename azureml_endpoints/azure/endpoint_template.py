"""The ARM template that re-sends an endpoint, to set what only exists after its deployments.

Online traffic and a batch endpoint's default deployment name deployments, which Azure refuses before they
exist, and azure-native refuses a second resource for the same endpoint. An incremental template deployment
re-sends the endpoint exactly as declared plus that one setting, after the deployments
(docs/decisions/traffic-arm-template.md). Plain data: the program registers it (components) and
`azureml-endpoints rollout` deploys it with another split.
"""

from typing import Any

# The API version azure-native uses for Microsoft.MachineLearningServices at the pinned provider
# version; the template must speak the same one (a test keeps them equal).
ML_API_VERSION = "2025-12-01"
# A schema identifier ARM requires in every template; it is never fetched and is the same in every cloud.
ARM_TEMPLATE_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def template_document(
    collection: str,
    workspace_name: str,
    location: str,
    endpoint_name: str,
    tags: dict[str, str],
    properties: dict[str, Any],
    user_assigned_identity_id: str | None,
) -> dict[str, Any]:
    """The template for `workspaces/<collection>/<endpoint>` (collection: onlineEndpoints or batchEndpoints), as plain
    data: the program registers it, and azureml_endpoints.cli.rollout deploys it with another split."""
    identity = (
        {"type": "UserAssigned", "userAssignedIdentities": {user_assigned_identity_id: {}}}
        if user_assigned_identity_id
        else {"type": "SystemAssigned"}
    )
    return {
        "$schema": ARM_TEMPLATE_SCHEMA,
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": f"Microsoft.MachineLearningServices/workspaces/{collection}",
                "apiVersion": ML_API_VERSION,
                "name": f"{workspace_name}/{endpoint_name}",
                "location": location,
                "tags": tags,
                "identity": identity,
                "properties": properties,
            }
        ],
    }
