"""The batch driver as Azure ML's batch runtime calls it, in the batch deployment's own environment.

The environment is a virtual environment holding exactly the pip list of ml/environment/batch-conda.yaml
(azureml-core and azureml-dataset-runtime[fuse], which the batch runtime needs, with the pins that resolve
together): installing it proves the pins resolve. In it, the driver's init() runs once, then run(mini_batch)
with file paths, as the runtime passes a uri_folder's files.
"""

import csv
import json
import subprocess
from pathlib import Path

import joblib
import numpy
import pytest
from packaging.version import Version

from azureml_endpoints.local.runtime import conda_pip_requirements, python_env
from azureml_endpoints.paths import project_dir

BATCH_CONDA = project_dir() / "ml" / "environment" / "batch-conda.yaml"
SAMPLE_FILES = sorted((project_dir() / "ml" / "batch-data").glob("*.csv"))

# Loads the driver the way the runtime does (by path), then init() and run(mini_batch); prints the outcome.
RUNNER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("batch_driver", sys.argv[1])
driver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(driver)
driver.init()
try:
    print("RESULT " + json.dumps({"rows": driver.run(sys.argv[2:])}))
except Exception as error:
    print("RESULT " + json.dumps({"error": type(error).__name__, "message": str(error)}))
"""


@pytest.fixture(scope="session")
def batch_python() -> Path:
    return python_env(BATCH_CONDA)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch") / "azureml-models" / "sklearn-regression" / "1"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "sklearn_regression_model.pkl").write_bytes(
        (project_dir() / "ml/model-1/model/sklearn_regression_model.pkl").read_bytes()
    )
    return folder


def run_driver(batch_python, model_dir, files) -> tuple[dict, str]:
    result = subprocess.run(
        [str(batch_python), "-c", RUNNER, str(project_dir() / "ml/batchscoring/batch_driver.py"), *map(str, files)],
        capture_output=True,
        text=True,
        env={"AZUREML_MODEL_DIR": str(model_dir), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [out for out in result.stdout.splitlines() if out.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :]), result.stdout


def test_batch_environment_has_the_runtime_packages_at_their_pins(batch_python):
    pins = {r.split("==")[0].split("[")[0]: r.split("==")[1] for r in conda_pip_requirements(BATCH_CONDA)}
    assert {"azureml-core", "azureml-dataset-runtime"} <= set(pins)
    script = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    installed = json.loads(subprocess.check_output([str(batch_python), "-c", script, *pins], text=True))
    assert installed == pins
    # The runtime imports these; libfuse itself comes with the image, not with pip.
    subprocess.run([str(batch_python), "-c", "import azureml.core, azureml.data, azureml.dataprep"], check=True)
    # Their constraints are why batch cannot share the online environment.
    versions = json.loads(subprocess.check_output([str(batch_python), "-c", script, "numpy", "cloudpickle", "azure-identity"], text=True))
    assert Version(versions["numpy"]) < Version("2.3.3") and Version(versions["cloudpickle"]) < Version("3")


def test_batch_driver_scores_every_row_of_the_sample_input(batch_python, model_dir):
    outcome, output = run_driver(batch_python, model_dir, SAMPLE_FILES)
    model = joblib.load(project_dir() / "ml/model-1/model/sklearn_regression_model.pkl")
    expected = []
    for f in SAMPLE_FILES:
        with f.open() as handle:
            data = numpy.array(list(csv.reader(handle))[1:], dtype=float)
        expected += [(f.name, i, p) for i, p in enumerate(model.predict(data))]
    rows = [row.split(",") for row in outcome["rows"]]
    assert len(rows) == 30 == len(expected)
    assert [(name, int(i)) for name, i, _ in rows] == [(name, i) for name, i, _ in expected]
    assert numpy.allclose([float(p) for *_, p in rows], [p for *_, p in expected], rtol=1e-12, atol=0)
    assert "batch_driver - Scored 30 rows from 3 files" in output


def test_one_bad_file_fails_its_mini_batch_loudly(batch_python, model_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    text = tmp_path / "text.csv"
    text.write_text(",".join(f"f{i}" for i in range(10)) + "\n" + ",".join(["x"] * 10) + "\n")
    outcome, output = run_driver(batch_python, model_dir, [SAMPLE_FILES[0], bad, empty, text, SAMPLE_FILES[1]])
    # The runtime sees an exception: the mini-batch is retried, then counted against errorThreshold.
    assert outcome["error"] == "MiniBatchError"
    assert outcome["message"].startswith("3 of 5 files could not be scored: ")
    assert "bad.csv (expected 10 feature columns, found 2)" in outcome["message"]
    assert "empty.csv (empty file" in outcome["message"] and "text.csv (non-numeric value" in outcome["message"]
    # Each failure and the good files that are not written are in the log.
    assert "E [" in output and "batch_driver - Cannot score bad.csv: expected 10 feature columns, found 2" in output
    assert "Not writing the 2 good files of this failed mini-batch: part-000.csv, part-001.csv" in output


def test_a_missing_file_is_reported_by_name(batch_python, model_dir, tmp_path):
    outcome, output = run_driver(batch_python, model_dir, [tmp_path / "gone.csv"])
    assert outcome["error"] == "MiniBatchError" and "gone.csv (" in outcome["message"]
