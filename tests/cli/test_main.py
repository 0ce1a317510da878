"""`azureml-endpoints <command>`: one entry point, every command behind it with --help, unknown commands refused."""

import re
import subprocess
import sys

import pytest

from azureml_endpoints.cli.main import COMMANDS, main
from azureml_endpoints.paths import REPO


def test_no_command_prints_the_command_table_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_command_is_refused_in_one_line_plus_the_table(capsys):
    assert main(["previwe"]) == 2
    assert capsys.readouterr().err.startswith("azureml-endpoints: unknown command 'previwe'")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_that_names_it(command):
    result = subprocess.run(
        [sys.executable, "-m", "azureml_endpoints.cli.main", command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"azureml-endpoints {command}" in result.stdout


def test_the_console_script_is_installed_and_dispatches():
    result = subprocess.run(["azureml-endpoints", "--help"], capture_output=True, text=True, timeout=60, env={"PATH": f"{sys.prefix}/bin"})
    assert result.returncode == 0 and "plan-diff" in result.stdout


def test_readme_command_table_lists_exactly_the_commands():
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", (REPO / "README.md").read_text(), re.M)
    assert sorted(rows) == sorted(COMMANDS), "README.md's command table and azureml_endpoints/cli/main.py COMMANDS differ"
