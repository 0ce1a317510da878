"""ruff (pinned in the [test] extra, configured in pyproject.toml) finds nothing and would reformat nothing."""

import subprocess
import sys

from azureml_endpoints.paths import REPO


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_ruff_check_is_clean():
    result = ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_would_catch_an_unused_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    result = ruff("check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(bad))
    assert result.returncode == 1 and "F401" in result.stdout
