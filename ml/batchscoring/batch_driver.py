"""Batch scoring script (SPEC section 4): init() loads the model, run(mini_batch) scores CSV files.

Each input file is a CSV with a header row and the model's 10 numeric features per row. run() returns one
row per input row, "<file>,<row>,<prediction>", which the deployment appends to its output file.
"""

import csv
import logging
import os

import joblib
import numpy

FEATURES = 10
model = None


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    logging.info("Model loaded")


def run(mini_batch):
    results = []
    for path in mini_batch:
        with open(path, newline="") as handle:
            header, *rows = list(csv.reader(handle))
        if len(header) != FEATURES:
            raise ValueError(f"{os.path.basename(path)}: expected {FEATURES} feature columns, found {len(header)}")
        if not rows:
            continue
        predictions = model.predict(numpy.array(rows, dtype=float))
        results.extend(f"{os.path.basename(path)},{i},{p}" for i, p in enumerate(predictions))
    logging.info("Scored %d rows from %d files", len(results), len(mini_batch))
    return results
