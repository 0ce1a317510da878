"""`score-local` on Microsoft's public sample models, one per deployment kind, each checked on its output.

- online custom: azureml-examples' model-1 (its own score.py, and a conda file with `scikit-learn=1.7.0` as a
  conda dependency and `python=3.12`);
- online MLflow no-code: azureml-examples' ncd/sklearn-diabetes, with its sample request (`input_data`, split);
- batch: the shipped batch driver (AppendRow, SummaryOnly, errorThreshold) and sklearn-diabetes with no code.

The command runs in-process (`main`), on the program evaluated for dev with the samples in its catalog; every
server it starts listens on loopback and is stopped before it returns.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from azureml_endpoints.cli import score_local
from azureml_endpoints.local.runtime import EnvironmentBuildError, InterpreterMissing, python_env, read_conda_environment
from azureml_endpoints.paths import REPO

SAMPLES = REPO / "tests/fixtures/az-ml/online"  # what the sample project copies under az-ml/
NO_CODE = {"code": None, "scoringScript": None, "environment": None}
DIABETES_COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def run_cli(monkeypatch, capsys, evaluation, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(score_local, "evaluate", lambda stack: evaluation)
    code = score_local.main(["--stack", "dev", *args])
    out, err = capsys.readouterr()
    return code, out, err


def in_env(python: Path, script: str, *args: str) -> object:
    """What `script` prints as JSON, run by the deployment's own environment."""
    return json.loads(subprocess.check_output([str(python), "-c", script, *args], text=True, stdin=subprocess.DEVNULL, timeout=300))


def environment_of(local: score_local.LocalDeployment, tmp_path: Path) -> Path:
    conda = tmp_path / "conda.yaml"
    conda.write_text(local.conda_file)
    return python_env(conda, extra=list(local.extra_packages))


# --- online, custom model: model-1 ---------------------------------------------------------------


def test_model_1_sample_scores_with_its_conda_dependencies_under_its_python(sample_stack, python312_on_path, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(
        online={
            "model": "model-1-sample:1",
            "code": "az-ml/online/model-1/onlinescoring",
            "scoringScript": "score.py",
            "environment": "model-1-env",
        }
    )
    request = SAMPLES / "model-1/sample-request.json"
    code, out, err = run_cli(monkeypatch, capsys, evaluation, "--endpoint", "mi-uai-dev", "--deployment", "blue", "--request", str(request))
    assert code == 0, out + err
    head, body, *_ = out.split("\n", 2)
    assert head == "--- POST /score (mi-uai-dev/blue): HTTP 200"
    assert "POST /score 200" in out  # the server's own access line: init ran, then the request

    python = environment_of(score_local.resolve(evaluation, "mi-uai-dev", "blue"), tmp_path)
    installed = in_env(
        python,
        "import importlib.metadata as m, json, sys; print(json.dumps([sys.version_info[:2], m.version('scikit-learn'), m.version('scipy')]))",
    )
    assert installed == [[3, 12], "1.7.0", "1.16.0"]  # python=3.12, scikit-learn=1.7.0 and scipy=1.16.0 are conda dependencies
    expected = in_env(
        python,
        "import joblib, json, sys, numpy; m = joblib.load(sys.argv[1]); print(json.dumps(m.predict(numpy.array(json.load(open(sys.argv[2]))['data'])).tolist()))",
        str(SAMPLES / "model-1/model/sklearn_regression_model.pkl"),
        str(request),
    )
    assert json.loads(body) == expected and len(expected) == 2


# --- online, MLflow no-code: sklearn-diabetes ----------------------------------------------------


def test_mlflow_sample_scores_as_a_no_code_deployment(sample_stack, python312_on_path, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(online={"model": "sklearn-diabetes:2"})
    local = score_local.resolve(evaluation, "mi-uai-dev", "blue")
    assert local.no_code and local.scoring_script == "mlflow_score.py"
    assert local.environment_variables["MLFLOW_MODEL_FOLDER"] == "model"
    assert local.conda_file == (SAMPLES / "ncd/sklearn-diabetes/model/conda.yaml").read_text()  # the model's own conda file
    assert local.extra_packages == ()  # it already names azureml-inference-server-http and mlflow

    request = SAMPLES / "ncd/sample-request-sklearn.json"
    code, out, err = run_cli(monkeypatch, capsys, evaluation, "--endpoint", "mi-uai-dev", "--deployment", "blue", "--request", str(request))
    assert code == 0, out + err
    head, body, *_ = out.split("\n", 2)
    assert head == "--- POST /score (mi-uai-dev/blue): HTTP 200"

    # The sklearn estimator itself, unpickled without MLflow, on the request's rows.
    expected = in_env(
        environment_of(local, tmp_path),
        "import cloudpickle, json, sys, pandas; m = cloudpickle.load(open(sys.argv[1], 'rb')); d = json.load(open(sys.argv[2]))['input_data'];"
        " print(json.dumps(m.predict(pandas.DataFrame(d['data'], columns=d['columns'])).tolist()))",
        str(SAMPLES / "ncd/sklearn-diabetes/model/model.pkl"),
        str(request),
    )
    assert json.loads(body) == pytest.approx(expected, rel=1e-12) and len(expected) == 2


def test_a_request_without_input_data_is_refused_as_azure_refuses_it(sample_stack, python312_on_path, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(online={"model": "sklearn-diabetes:2"})
    request = tmp_path / "mlflow-server-shape.json"
    request.write_text(json.dumps({"dataframe_split": {"columns": DIABETES_COLUMNS, "data": [[1.0] * 10]}}))  # MLflow's own server's shape
    code, out, err = run_cli(monkeypatch, capsys, evaluation, "--endpoint", "mi-uai-dev", "--deployment", "blue", "--request", str(request))
    assert code == 1
    assert out.startswith("--- POST /score (mi-uai-dev/blue): HTTP 4") and "input_data" in out


# --- batch ---------------------------------------------------------------------------------------


def diabetes_files(folder: Path) -> list[Path]:
    folder.mkdir()
    rows = {"a.csv": [[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, -0.002, 0.02, -0.01]], "b.csv": [[0.1] * 10, [-0.05] * 10]}
    for name, data in rows.items():
        (folder / name).write_text(",".join(DIABETES_COLUMNS) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in data))
    return sorted(folder.iterdir())


def test_mlflow_sample_runs_as_a_no_code_batch_deployment(sample_stack, python312_on_path, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(batch={"model": "sklearn-diabetes:2", **NO_CODE, "miniBatchSize": 1})
    files = diabetes_files(tmp_path / "input")
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        evaluation,
        "--endpoint",
        "batch-dev",
        "--deployment",
        "blue",
        "--input",
        str(tmp_path / "input"),
        "--output",
        str(tmp_path / "out"),
    )
    assert code == 0, out + err
    assert out.startswith("--- batch job (batch-dev/blue): succeeded; 2 files in 2 mini-batches, 0 failed, 3 rows (AppendRow)\n")
    rows = [line.split(",") for line in (tmp_path / "out/predictions.csv").read_text().splitlines()]
    assert [(r[0], r[2]) for r in rows] == [("0", "a.csv"), ("0", "b.csv"), ("1", "b.csv")]  # row, prediction, file_name
    local = score_local.resolve(evaluation, "batch-dev", "blue")
    expected = in_env(
        environment_of(local, tmp_path),
        "import cloudpickle, json, sys, pandas; m = cloudpickle.load(open(sys.argv[1], 'rb'));"
        " print(json.dumps([p for f in sys.argv[2:] for p in m.predict(pandas.read_csv(f)).tolist()]))",
        str(SAMPLES / "ncd/sklearn-diabetes/model/model.pkl"),
        *map(str, files),
    )
    assert [float(r[1]) for r in rows] == pytest.approx(expected, rel=1e-12)


def test_a_file_type_the_no_code_driver_cannot_read_fails_the_job(sample_stack, python312_on_path, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(batch={"model": "sklearn-diabetes:2", **NO_CODE, "miniBatchSize": 1, "errorThreshold": 0})
    diabetes_files(tmp_path / "input")
    (tmp_path / "input/notes.avro").write_bytes(b"\0")
    code, out, err = run_cli(
        monkeypatch, capsys, evaluation, "--endpoint", "batch-dev", "--deployment", "blue", "--input", str(tmp_path / "input")
    )
    assert code == 1, err
    assert out.startswith("--- batch job (batch-dev/blue): failed: 1 files failed, errorThreshold 0; 3 files in 3 mini-batches, 1 failed")
    assert "File type 'avro' is not supported" in out and "--- predictions.csv" not in out


def test_shipped_batch_driver_appends_one_row_per_input_row(dev, monkeypatch, capsys, tmp_path):
    code, out, err = run_cli(monkeypatch, capsys, dev, "--endpoint", "batch-dev", "--deployment", "blue", "--output", str(tmp_path))
    assert code == 0, err
    assert out.startswith("--- batch job (batch-dev/blue): succeeded; 3 files in 1 mini-batches, 0 failed, 30 rows (AppendRow)\n")
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert len(rows) == 30 and rows[0].startswith("part-000.csv,0,") and rows[-1].startswith("part-002.csv,9,")
    assert "batch_driver - Scored 30 rows from 3 files" in out


def test_summary_only_writes_no_output_file(sample_stack, monkeypatch, capsys, tmp_path):
    evaluation = sample_stack(batch={"outputAction": "SummaryOnly"})
    output = tmp_path / "output"
    code, out, err = run_cli(monkeypatch, capsys, evaluation, "--endpoint", "batch-dev", "--deployment", "blue", "--output", str(output))
    assert code == 0, err
    assert "30 rows (SummaryOnly)" in out.splitlines()[0] and list(output.iterdir()) == []


# --- environments that cannot be built here ------------------------------------------------------


def test_a_missing_python_version_is_exit_3_with_the_reason(sample_stack, monkeypatch, capsys, tmp_path):
    conda = tmp_path / "conda.yaml"
    conda.write_text("dependencies:\n  - python=3.99\n  - pip:\n      - azureml-inference-server-http==1.5.1\n")
    with pytest.raises(InterpreterMissing, match=r"^the conda file asks for Python 3\.99, and no working python3\.99 is on PATH"):
        python_env(conda)
    evaluation = sample_stack(
        online={
            "model": "model-1-sample:1",
            "code": "az-ml/online/model-1/onlinescoring",
            "scoringScript": "score.py",
            "environment": "model-1-env",
        }
    )
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no python3.12 here, as on a machine without it
    if (Path("/usr/bin/python3.12")).exists():
        pytest.fail("this machine has /usr/bin/python3.12: the test needs a PATH without it")
    code, out, err = run_cli(monkeypatch, capsys, evaluation, "--endpoint", "mi-uai-dev", "--deployment", "blue")
    assert code == 3 and out == ""
    assert err.startswith("error: local runtime setup failed: the conda file asks for Python 3.12, and no working python3.12 is on PATH")


def test_a_conda_dependency_with_no_pip_package_is_named(tmp_path):
    conda = tmp_path / "conda.yaml"
    conda.write_text("dependencies:\n  - libgcc-ng=13.2.0\n  - pip:\n      - joblib\n")
    with pytest.raises(EnvironmentBuildError) as refused:
        python_env(conda, base=tmp_path / "venvs")
    assert str(refused.value).startswith(
        "conda.yaml: the conda dependency 'libgcc-ng=13.2.0' has no pip package libgcc-ng==13.2.0 on the package index"
    )


def test_conda_dependencies_map_to_pip_requirements_of_the_same_name_and_version(tmp_path):
    model_1 = read_conda_environment(SAMPLES / "model-1/environment/conda.yaml")
    assert model_1.python == "3.12"
    # pip=25.1.1 is the installer itself (the venv has its own); the pip: list follows the conda dependencies, as Azure installs them.
    assert model_1.requirements == [
        "numpy==2.3.1",
        "scikit-learn==1.7.0",
        "scipy==1.16.0",
        "azureml-inference-server-http==1.4.1",
        "inference-schema[numpy-support]",
        "joblib",
    ]
    conda = tmp_path / "conda.yaml"
    conda.write_text(
        "dependencies:\n  - python=3.12.4\n  - conda-forge::pandas=2.2\n  - xgboost>=2.0\n  - mkl=2024.0.0=h123_1\n  - requests\n"
    )
    spelled = read_conda_environment(conda)
    # conda's `=2.2` is a prefix match; a channel prefix and a build string have no pip meaning.
    assert spelled.python == "3.12" and spelled.requirements == ["pandas==2.2.*", "xgboost>=2.0", "mkl==2024.0.0", "requests"]
