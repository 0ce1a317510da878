"""Batch scoring script: init() loads the model, run(mini_batch) scores CSV files.

Each input file is a CSV with a header row and the model's 10 numeric features per row. run() returns one
row per input row, "<file>,<row>,<prediction>", which the deployment appends to its output file.

Errors, as Azure's "Author scoring scripts for batch deployments" defines them: an exception from run()
fails the whole mini-batch; the runtime retries it (`retrySettings.maxRetries`, each within
`retrySettings.timeout`) and, once out of retries, counts its files against `errorThreshold`; the job
fails when the count passes it (-1 ignores all failures). This script uses exactly that: it reads every
file of the mini-batch, logs each unreadable or malformed one with its reason, and then raises one error
naming all of them. The good files of that mini-batch are not written (the log says so and which they
are): a bad input is never dropped silently, and the failure is counted where the deployment's
`errorThreshold` can act on it.
"""

import csv
import logging
import os
import sys

import joblib
import numpy

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


log = script_logger("batch_driver")


class MiniBatchError(RuntimeError):
    """One or more files of a mini-batch could not be scored; the runtime retries and counts the mini-batch."""


def init():
    global model
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    log.info("Model loaded from %s", model_path)


def read_features(path: str) -> numpy.ndarray:
    """The feature rows of one CSV; ValueError with the reason when it is not a CSV of 10 numeric columns."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError("empty file (expected a header row)")
    header, *values = rows
    if len(header) != FEATURES:
        raise ValueError(f"expected {FEATURES} feature columns, found {len(header)}")
    for number, row in enumerate(values, start=2):
        if len(row) != FEATURES:
            raise ValueError(f"line {number}: expected {FEATURES} values, found {len(row)}")
    try:
        return numpy.array(values, dtype=float).reshape(len(values), FEATURES)
    except ValueError as error:
        raise ValueError(f"non-numeric value: {error}") from None


def run(mini_batch):
    results, scored, failed = [], [], []
    for path in mini_batch:
        name = os.path.basename(path)
        try:
            features = read_features(path)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            log.error("Cannot score %s: %s", name, error)
            failed.append(f"{name} ({error})")
            continue
        predictions = model.predict(features) if len(features) else []
        results.extend(f"{name},{i},{p}" for i, p in enumerate(predictions))
        scored.append(name)
    if failed:
        if scored:
            log.error("Not writing the %d good files of this failed mini-batch: %s", len(scored), ", ".join(scored))
        raise MiniBatchError(f"{len(failed)} of {len(mini_batch)} files could not be scored: {'; '.join(failed)}")
    log.info("Scored %d rows from %d files", len(results), len(mini_batch))
    return results
