"""What `pulumi up` prints when the program refuses a config: run the program the way Pulumi's Python language host
runs it, with its exception handling, and assert the user sees one clean message, never a traceback."""

from __future__ import annotations

import copy
import os
import shutil
import traceback

import pulumi
import pytest

from azureml_endpoints.config import catalog
from azureml_endpoints.offline.evaluate import evaluate
from azureml_endpoints.paths import project_dir
from azureml_endpoints.pulumi_io.stack_files import stack_config

# pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec (last changed in bd2962ec26f3e855648d41d9c0ba2bceda9517bd):
# the program runs as `pulumi.runtime.run_in_stack(run)` with `run` = `runpy.run_path(PROGRAM, run_name="__main__")`
# (which azureml_endpoints.offline.evaluate does under the mocks), then
#     except pulumi.RunError as e:
#         pulumi.log.error(str(e))                                   # exit code 1
#     except Exception:
#         error_msg = "Program failed with an unhandled exception:\n" + _get_user_stacktrace(user_program_abspath)
#         pulumi.log.error(error_msg)                                # exit code 32
UNHANDLED = "Program failed with an unhandled exception:"


def as_the_language_host_runs_it(config: dict, stack: str = "dev") -> tuple[int, list[str]]:
    """(exit code, the lines the user sees after `error:`), as the language host handles the program's exception."""
    try:
        evaluate(stack, config=config)
    except pulumi.RunError as error:
        return 1, str(error).splitlines()
    except Exception:  # noqa: BLE001 - exactly the language host's catch-all
        return 32, (UNHANDLED + "\n" + traceback.format_exc()).splitlines()
    return 0, []


def refused(config: dict) -> str:
    code, lines = as_the_language_host_runs_it(config)
    assert code == 1 and len(lines) == 1, "\n".join(lines)
    assert lines[0].startswith("invalid azureml-endpoints config: ")
    return lines[0]


@pytest.fixture
def dev() -> dict:
    return copy.deepcopy(stack_config("dev"))


def test_a_typo_is_one_line(dev):
    dev["azureml-endpoints:rolePropagationSecond"] = 30
    assert "rolePropagationSecond: is not a known setting; did you mean 'rolePropagationSeconds'?" in refused(dev)


def test_a_bad_value_is_one_line(dev):
    dev["azureml-endpoints:onlineEndpoints"][0]["deployments"][0]["instanceCount"] = 0
    assert "onlineEndpoints[0].deployments[0].instanceCount: " in refused(dev)


def test_several_violations_are_one_clean_message_a_line_each(dev):
    dev["azureml-endpoints:rolePropagationSecond"] = 30
    dev["azureml-endpoints:onlineEndpoints"][0]["deployments"][0]["instanceCount"] = 0
    code, lines = as_the_language_host_runs_it(dev)
    assert code == 1 and len(lines) == 3 and lines[0] == "invalid azureml-endpoints config:", lines
    assert not any("Traceback" in line for line in lines)


BROKEN_LOCKS = {
    "empty (a torn write)": b"",
    "truncated": b'{"models": {"sklearn-regression": {"1": "sha256:1ff',
    "[]": b"[]",
    "null": b"null",
    "models a list": b'{"models": []}',
    "versions a list": b'{"models": {"sklearn-regression": ["1"]}}',
    "a hash that is a number": b'{"models": {"sklearn-regression": {"1": 5}}}',
    "a non-numeric version": b'{"models": {"sklearn-regression": {"one": "sha256:' + b"0" * 64 + b'"}}}',
    "200k-deep nesting": b"[" * 200_000 + b"]" * 200_000,
    "not UTF-8": b'{"models": {"\xff": {}}}',
}


@pytest.mark.parametrize("case", BROKEN_LOCKS)
def test_a_broken_lock_file_is_one_line_naming_the_file_and_entry(dev, tmp_path, monkeypatch, case):
    lock = tmp_path / "models.lock.json"
    lock.write_bytes(BROKEN_LOCKS[case])
    monkeypatch.setattr(catalog, "model_lock_file", lambda: lock)
    line = refused(dev)
    assert f"{lock}: " in line, line


def test_a_lock_file_that_is_a_directory_is_one_line(dev, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "model_lock_file", lambda: tmp_path)
    assert f"{tmp_path}: cannot be read" in refused(dev)


@pytest.fixture
def asset_folder():
    """A folder inside the project (asset paths must be), removed afterwards."""
    folder = project_dir() / f"tmp-asset-{os.getpid()}"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.bin").write_bytes(b"0")
    (folder / "code").mkdir()
    (folder / "code" / "score.py").write_text("def init(): pass\n\ndef run(data): return data\n")
    yield folder
    shutil.rmtree(folder)


def test_a_symlink_out_of_the_repository_in_a_model_folder_is_refused(dev, asset_folder):
    (asset_folder / "model" / "nested").mkdir()
    (asset_folder / "model" / "nested" / "secret.txt").symlink_to("/etc/hostname")
    dev["azureml-endpoints:models"] = [
        {"name": "leaky", "version": 1, "type": "custom_model", "path": asset_folder.relative_to(project_dir()).as_posix() + "/model"}
    ]
    line = refused(dev)
    assert "models[0].path: " in line and "nested/secret.txt is a symbolic link to /etc/hostname, outside the repository" in line


def test_a_symlinked_folder_out_of_the_repository_in_a_code_folder_is_refused(dev, asset_folder):
    (asset_folder / "code" / "etc").symlink_to("/etc")
    deployment = dev["azureml-endpoints:onlineEndpoints"][0]["deployments"][0]
    deployment.update(code=asset_folder.relative_to(project_dir()).as_posix() + "/code", scoringScript="score.py")
    line = refused(dev)
    assert "deployments[0].code: " in line and "code/etc is a symbolic link to /etc, outside the repository" in line


def test_a_symlink_inside_the_repository_is_kept(asset_folder):
    (asset_folder / "model" / "readme").symlink_to(project_dir() / "README.md")
    assert asset_folder / "model" / "readme" in catalog.asset_files(asset_folder / "model")


def test_a_file_name_that_is_not_utf8_is_refused(dev, asset_folder):
    os.close(os.open(os.fsencode(asset_folder / "model") + b"/bad-\xff", os.O_CREAT | os.O_WRONLY))
    dev["azureml-endpoints:models"] = [
        {"name": "odd", "version": 1, "type": "custom_model", "path": asset_folder.relative_to(project_dir()).as_posix() + "/model"}
    ]
    assert "a file name that is not UTF-8" in refused(dev)
