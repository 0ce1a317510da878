"""Scoring script without Azure resource access: loads the model and predicts (sample_model.py: log, 400s)."""

from sample_model import load_model, predict, script_logger

log = script_logger("score")
model = None


def init():
    global model
    model = load_model(log)
    log.info("Init complete")


def run(raw_data):
    """Takes {"data": [[10 numbers], ...]} and returns one prediction per row; 400 for a malformed request."""
    return predict(model, raw_data, log)
