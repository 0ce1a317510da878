"""Variants of the fixture project's sandbox-private stack that several test modules evaluate."""

NS = "azureml-endpoints:"
REGISTRY_ID = (
    "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/rg-ml-registries/providers/"
    "Microsoft.MachineLearningServices/registries/shared-models"
)
REGISTRY_MODEL = "azureml://registries/shared-models/models/credit/versions/3"


def with_registry_model(config: dict) -> dict:
    """sandbox-private whose online deployment runs a model of a team's registry, listed in network.registries, with
    the scoring code and environment the shipped model carries."""
    endpoint = config[NS + "onlineEndpoints"][0]
    deployment = {
        **endpoint["deployments"][0],
        "model": REGISTRY_MODEL,
        "modelType": "custom_model",
        "code": "ml/onlinescoring",
        "scoringScript": "score_managedidentity.py",
        "environment": "sklearn-scoring",
    }
    network = {**config[NS + "network"], "registries": [{"name": "shared-models", "resourceId": REGISTRY_ID}]}
    return {**config, NS + "network": network, NS + "onlineEndpoints": [{**endpoint, "deployments": [deployment]}]}
