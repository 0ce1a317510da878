"""Where the project lives: the repository root (the Pulumi project folder) and its `ml/` folder.

The package is installed editable from the repository (`pip install -e .`), so the root is this file's
grandparent; every module that reads the project's files takes its paths from here.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ML_DIR = REPO / "ml"
DATA_DIR = ML_DIR / "data"
BATCH_DATA_DIR = ML_DIR / "batch-data"
MODEL_LOCK_FILE = ML_DIR / "models.lock.json"
