"""What both online scoring scripts share: their log, the sample model, and requests checked before predicting.

A module beside the scripts: the code asset is this whole folder, and the inference server imports the
entry script with its folder on the path.

Runs under azureml-inference-server-http, which configures only its own `azmlinfsrv` loggers: lines sent
to the root logger at INFO never reach the deployment log. The scripts log through their own logger with a
stdout handler, so their lines appear in the server output (`az ml online-deployment get-logs`).
A malformed request is the caller's fault: it is answered 400 with what was wrong, never a 500.
"""

import json
import logging
import os
import sys

import joblib
import numpy
from azureml_inference_server_http.api.aml_response import AMLResponse

FEATURES = 10
MODEL_FILE = "sklearn_regression_model.pkl"


def script_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s [%(process)d] %(name)s - %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def load_model(log: logging.Logger):
    """The model from the folder Azure ML mounts at AZUREML_MODEL_DIR (a folder model keeps its name: model/)."""
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", MODEL_FILE)
    model = joblib.load(model_path)
    log.info("Model loaded from %s", model_path)
    return model


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


def predict(model, raw_data: str, log: logging.Logger):
    """One prediction per row, or a 400 response saying what was wrong with the request."""
    try:
        data = parse_request(raw_data)
    except ValueError as error:
        log.warning("Bad request: %s", error)
        return AMLResponse({"message": f"bad request: {error}"}, 400, json_str=True)
    return model.predict(data).tolist()
