"""Scoring script that reads a blob with the endpoint's managed identity at start-up.

init() loads the model, then reads the blob twice: over REST with a token from the managed identity
endpoint (MSI_ENDPOINT/MSI_SECRET, `clientid` only for a user-assigned identity), and with
ManagedIdentityCredential + BlobClient, as Azure's "Access Azure resources from an online endpoint with
a managed identity" does. The blob URL comes from STORAGE_BLOB_ENDPOINT, the storage account's own blob
endpoint as Azure reports it, so the script works in every Azure cloud.

Runs under azureml-inference-server-http, which configures only its own `azmlinfsrv` loggers: lines sent
to the root logger at INFO never reach the deployment log. The script logs through its own logger with a
stdout handler, so "Blob contains ..." (the proof that the identity read the blob) and "Init complete"
appear in the server output. A malformed request answers 400 with what was wrong, never a 500.
"""

import json
import logging
import os
import sys

import joblib
import numpy
import requests
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobClient
from azureml_inference_server_http.api.aml_response import AMLResponse

# Entra resource (audience) for Azure Storage tokens.
STORAGE_RESOURCE = os.environ.get("STORAGE_TOKEN_RESOURCE", "https://storage.azure.com/")
FEATURES = 10
model = None


def script_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


log = script_logger("score_managedidentity")


def blob_url() -> str:
    endpoint = os.environ["STORAGE_BLOB_ENDPOINT"].rstrip("/")
    return f"{endpoint}/{os.environ['STORAGE_CONTAINER_NAME']}/{os.environ['FILE_NAME']}"


def get_token_rest() -> str:
    """Token from the managed identity endpoint; clientid selects the user-assigned identity when set."""
    params = {"resource": STORAGE_RESOURCE}
    client_id = os.environ.get("UAI_CLIENT_ID")
    if client_id:
        params["clientid"] = client_id
    headers = {"secret": os.environ["MSI_SECRET"], "Metadata": "true"}
    response = requests.get(os.environ["MSI_ENDPOINT"], params=params, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def access_blob_storage_rest() -> str:
    headers = {"Authorization": f"Bearer {get_token_rest()}", "x-ms-version": "2019-02-02"}
    response = requests.get(blob_url(), headers=headers, timeout=30)
    response.raise_for_status()
    log.info("Blob contains (REST): %s", response.text)
    return response.text


def access_blob_storage_sdk() -> str:
    credential = ManagedIdentityCredential(client_id=os.environ.get("UAI_CLIENT_ID"))
    blob = BlobClient.from_blob_url(blob_url(), credential=credential)
    text = blob.download_blob(encoding="utf-8").readall()
    log.info("Blob contains (SDK): %s", text)
    return text


def parse_request(raw_data: str) -> numpy.ndarray:
    """{"data": [[10 numbers], ...]} as a float matrix; ValueError with the reason otherwise."""
    try:
        body = json.loads(raw_data)
    except ValueError as error:
        raise ValueError(f"the request body is not JSON: {error}") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not body["data"]:
        raise ValueError('expected a JSON object {"data": [[10 numbers], ...]} with at least one row')
    for i, row in enumerate(body["data"]):
        if not isinstance(row, list) or len(row) != FEATURES:
            raise ValueError(f"data[{i}] must be a list of {FEATURES} numbers")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row):
            raise ValueError(f"data[{i}] must hold numbers only")
    return numpy.array(body["data"], dtype=float)


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    log.info("Model loaded from %s", model_path)
    access_blob_storage_rest()
    access_blob_storage_sdk()
    log.info("Init complete")


def run(raw_data):
    """Takes {"data": [[10 numbers], ...]} and returns one prediction per row; 400 for a malformed request."""
    try:
        data = parse_request(raw_data)
    except ValueError as error:
        log.warning("Bad request: %s", error)
        return AMLResponse({"message": f"bad request: {error}"}, 400, json_str=True)
    return model.predict(data).tolist()
