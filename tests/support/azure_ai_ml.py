"""What azure-ai-ml builds: runs tests/support/aml_sdk_bodies.py in the SDK's own venv (it cannot join the
program's) and returns its bodies, one per definition."""

import json
import subprocess
from pathlib import Path

from azureml_endpoints.paths import REPO


def sdk_bodies(python: Path, definitions: list[dict]) -> list:
    result = subprocess.run(
        [str(python), str(REPO / "tests/support/aml_sdk_bodies.py")],
        input=json.dumps(definitions),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
