"""The scoring Azure ML generates for an MLflow model deployed with no code, for `score-local`.

Runs under `azureml-inference-server-http` in the model's own environment. It follows the contract of the
script the curated MLflow inference images ship (Azure/azureml-assets,
assets/inference/environments/mlflow-py312-inference/context/mlflow_score_script.py) and of Azure's
"Guidelines for deploying MLflow models" (Input structure):

- the model is `$AZUREML_MODEL_DIR/$MLFLOW_MODEL_FOLDER`, loaded with `mlflow.pyfunc.load_model`: the model's
  own pyfunc flavour decides how it predicts, and enforces its signature;
- `run` is decorated with inference-schema's `input_schema`, so the server passes the request's
  `input_data` key (required) and `params` (optional) as arguments;
- `input_data` as Azure reads it: a list is a tensor (numpy array), a dict with `columns`, `index` and
  `data` is a DataFrame in the split orientation, any other dict is named tensors;
- the result is made JSON-able as MLflow's own scoring server does (DataFrames in records orientation).

Left out, because they change nothing a request gets back: model data collection (azureml-ai-monitoring)
and the swagger samples built from the signature.
"""

import inspect
import io
import json
import os

import numpy as np
import pandas as pd
from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType
from inference_schema.schema_decorators import input_schema
from mlflow.pyfunc import load_model
from mlflow.pyfunc.scoring_server import _get_jsonable_obj

model = None


class AsSent(AbstractParameterType):
    """Hands the request's value to run() unchanged; run() parses it as Azure's script does."""

    def __init__(self):
        super().__init__(None)

    def deserialize_input(self, input_data):
        return input_data

    def input_to_swagger(self):
        return {"type": "object", "example": {}}


def init():
    global model
    model = load_model(os.path.join(os.environ["AZUREML_MODEL_DIR"], os.environ["MLFLOW_MODEL_FOLDER"]))


def model_input(input_data):
    if isinstance(input_data, str):
        input_data = json.loads(input_data)
    if isinstance(input_data, list):
        return np.asarray(input_data)
    if isinstance(input_data, dict) and {"columns", "index", "data"} <= set(input_data):
        return pd.read_json(io.StringIO(json.dumps(input_data)), orient="split", dtype=False)
    if isinstance(input_data, dict):
        return {name: np.asarray(value) for name, value in input_data.items()}
    raise ValueError(f"input_data must be a list (tensor) or an object (split DataFrame or named tensors), not {type(input_data).__name__}")


@input_schema("input_data", AsSent())
@input_schema("params", AsSent(), optional=True)
def run(input_data, params=None):
    data = model_input(input_data)
    if inspect.signature(model.predict).parameters.get("params"):
        result = model.predict(data, params=params)
    else:
        result = model.predict(data)
    return _get_jsonable_obj(result, pandas_orient="records")
