"""The product's commands as a team runs them: `python -m azureml_endpoints.cli.main <command>` from the project
directory (the test's project, via AZUREML_ENDPOINTS_PROJECT), no stdin."""

import subprocess
import sys

from azureml_endpoints.paths import project_dir


def run_command(command: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.main", command, *args],
        cwd=project_dir(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
    )
