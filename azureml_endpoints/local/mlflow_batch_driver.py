"""The batch driver Azure ML runs for an MLflow model deployed to a batch endpoint with no code, for `score-local`.

As "Use MLflow models in batch deployments" describes it: the model's pyfunc flavour predicts once per file;
`.csv`, `.parquet` and `.pqt` files are read as DataFrames, typed by the model's signature when it has one;
any other file type fails the mini-batch; each input row gives one output line `row,prediction,file_name`
(the row index in its file, the prediction as `predict()` returned it, the file's name).
"""

import os

import pandas as pd
from mlflow.pyfunc import load_model

model = None
READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pqt": pd.read_parquet}


def init():
    global model
    model = load_model(os.path.join(os.environ["AZUREML_MODEL_DIR"], os.environ["MLFLOW_MODEL_FOLDER"]))


def run(mini_batch):
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        reader = READERS.get(os.path.splitext(name)[1].lower())
        if reader is None:
            raise ValueError(f"Error processing input file: '{path}'. File type '{os.path.splitext(name)[1].lstrip('.')}' is not supported")
        data = reader(path)
        signature = model.metadata.signature if model.metadata else None
        if signature and signature.inputs and not signature.inputs.is_tensor_spec():
            data = data.astype(dict(zip(signature.inputs.input_names(), signature.inputs.pandas_types())))
        predictions = model.predict(data)
        values = predictions.iloc[:, 0] if hasattr(predictions, "iloc") and predictions.ndim == 2 else predictions
        rows += [f"{row},{prediction},{name}" for row, prediction in enumerate(list(values))]
    return rows
