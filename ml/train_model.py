"""Trains the two shipped versions of the sample regression model, deterministically.

Ridge regression over the 10 numeric features of scikit-learn's bundled diabetes data set (no download).
The versions differ only in regularisation strength, so a blue/green rollout changes predictions visibly
while the scoring code stays the same. The same library versions always produce the same coefficients.
Layout as in Azure/azureml-examples (cli/endpoints/online/model-1, model-2): each version is a folder whose
`model/` subfolder is registered, so the scoring script finds AZUREML_MODEL_DIR/model/<file>.

Run: python ml/train_model.py  (writes ml/model-<version>/model/sklearn_regression_model.pkl)
"""

from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

ML_DIR = Path(__file__).resolve().parent
MODEL_FILE = "sklearn_regression_model.pkl"
FEATURES = 10
# Model version -> Ridge alpha. Version 2 regularises less.
ALPHAS = {1: 0.5, 2: 0.05}


def model_path(version: int) -> Path:
    return ML_DIR / f"model-{version}" / "model" / MODEL_FILE


def train(version: int = 1) -> Ridge:
    features, target = load_diabetes(return_X_y=True)
    assert features.shape[1] == FEATURES
    return Ridge(alpha=ALPHAS[version]).fit(features, target)


if __name__ == "__main__":
    for version in ALPHAS:
        path = model_path(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(train(version), path)
        print(f"wrote {path}")
