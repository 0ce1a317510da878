"""Trains the shipped regression model deterministically, as the reference sklearn_regression_model.pkl is.

Ridge regression over the 10 numeric features of scikit-learn's bundled diabetes data set (no download),
with a fixed alpha: the same library versions always produce the same coefficients.
Run: python ml/train_model.py  (writes ml/model/sklearn_regression_model.pkl)
"""

from pathlib import Path

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

MODEL_PATH = Path(__file__).resolve().parent / "model" / "sklearn_regression_model.pkl"
FEATURES = 10


def train() -> Ridge:
    features, target = load_diabetes(return_X_y=True)
    assert features.shape[1] == FEATURES
    return Ridge(alpha=0.5).fit(features, target)


if __name__ == "__main__":
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(train(), MODEL_PATH)
    print(f"wrote {MODEL_PATH}")
