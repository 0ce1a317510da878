"""Writes the sample batch input, ml/batch-data/part-*.csv: rows of the bundled diabetes data set.

Deterministic (fixed rows, no randomness). Run: python ml/make_batch_data.py
"""

import csv
from pathlib import Path

from sklearn.datasets import load_diabetes

OUT = Path(__file__).resolve().parent / "batch-data"
FILES, ROWS = 3, 10


def write() -> list[Path]:
    data = load_diabetes()
    OUT.mkdir(exist_ok=True)
    written = []
    for part in range(FILES):
        path = OUT / f"part-{part:03d}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(data.feature_names)
            for row in data.data[part * ROWS : (part + 1) * ROWS]:
                writer.writerow([f"{v:.6f}" for v in row])
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
