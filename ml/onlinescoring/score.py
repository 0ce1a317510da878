"""Scoring script without Azure resource access: loads the model and predicts."""

import json
import logging
import os

import joblib
import numpy

model = None


def init():
    """Loads the model from the folder Azure ML mounts at AZUREML_MODEL_DIR."""
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    logging.info("Model loaded")


def run(raw_data):
    """Takes {"data": [[10 numbers], ...]} and returns one prediction per row."""
    data = numpy.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
