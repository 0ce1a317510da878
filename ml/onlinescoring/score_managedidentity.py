"""Scoring script that reads a blob with the endpoint's managed identity at start-up.

init() loads the model, then reads the blob twice: over REST with a token from the managed identity
endpoint (MSI_ENDPOINT/MSI_SECRET, `clientid` only for a user-assigned identity), and with
ManagedIdentityCredential + BlobClient, as Azure's "Access Azure resources from an online endpoint with
a managed identity" does. The blob URL comes from STORAGE_BLOB_ENDPOINT, the storage account's own blob
endpoint as Azure reports it, so the script works in every Azure cloud.

It logs through sample_model.script_logger, so "Blob read ... bytes" (the proof that the identity read the blob;
its length only: the deployment log is readable by more people than the blob) and "Init complete" appear in the
deployment log; a malformed request answers 400 (sample_model.predict).
"""

import os

import requests
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobClient
from sample_model import load_model, predict, script_logger

# Entra resource (audience) for Azure Storage tokens.
STORAGE_RESOURCE = os.environ.get("STORAGE_TOKEN_RESOURCE", "https://storage.azure.com/")
model = None
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
    log.info("Blob read (REST): %d bytes", len(response.content))
    return response.text


def access_blob_storage_sdk() -> str:
    credential = ManagedIdentityCredential(client_id=os.environ.get("UAI_CLIENT_ID"))
    blob = BlobClient.from_blob_url(blob_url(), credential=credential)
    text = blob.download_blob(encoding="utf-8").readall()
    log.info("Blob read (SDK): %d bytes", len(text.encode("utf-8")))
    return text


def init():
    global model
    model = load_model(log)
    access_blob_storage_rest()
    access_blob_storage_sdk()
    log.info("Init complete")


def run(raw_data):
    """Takes {"data": [[10 numbers], ...]} and returns one prediction per row; 400 for a malformed request."""
    return predict(model, raw_data, log)
