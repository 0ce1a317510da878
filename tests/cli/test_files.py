"""Files the tools write are whole or untouched: faults injected at the write (write, fsync, rename, a read-only
folder, a full disk) leave the old file byte for byte and no temporary file, and the tool says one line naming
the path."""

from __future__ import annotations

import errno
import json
import os

import pytest

from azureml_endpoints.cli import model_lock, plan_diff, preview
from azureml_endpoints.paths import model_lock_file, project_dir
from azureml_endpoints.pulumi_io import files
from azureml_endpoints.pulumi_io.files import WriteFailed, write_atomic

OLD = '{"old": "content"}\n'


def fail(name: str, code: int = errno.ENOSPC):
    def failing(*_args, **_kwargs):
        raise OSError(code, os.strerror(code))

    failing.__name__ = name
    return failing


class FailingStream:
    """What os.fdopen returns when the disk fills up mid-write (ENOSPC), or an I/O error (EIO) hits."""

    def __init__(self, stream, code):
        self._stream, self._code = stream, code

    def write(self, data):
        self._stream.write(data[: len(data) // 2])  # half of it reached the file, as a cut write does
        raise OSError(self._code, os.strerror(self._code))

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stream.close()


def torn_write(code):
    real = os.fdopen
    return lambda fd, mode: FailingStream(real(fd, mode), code)


FAULTS = {
    "write: disk full": lambda m: m.setattr(files.os, "fdopen", torn_write(errno.ENOSPC)),
    "write: I/O error": lambda m: m.setattr(files.os, "fdopen", torn_write(errno.EIO)),
    "write: file too large": lambda m: m.setattr(files.os, "fdopen", torn_write(errno.EFBIG)),
    "fsync fails": lambda m: m.setattr(files.os, "fsync", fail("fsync", errno.EIO)),
    "rename fails": lambda m: m.setattr(files.os, "replace", fail("replace", errno.EXDEV)),
    "no temporary file": lambda m: m.setattr(files.tempfile, "mkstemp", fail("mkstemp", errno.EDQUOT)),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(tmp_path, monkeypatch, fault):
    target = tmp_path / "models.lock.json"
    target.write_text(OLD)
    FAULTS[fault](monkeypatch)
    with pytest.raises(WriteFailed) as refused:
        write_atomic(target, json.dumps({"new": "x" * 100_000}))
    assert str(refused.value).startswith(f"cannot write {target}: ") and "\n" not in str(refused.value)
    assert target.read_text() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.lock.json"]


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch, code):
    """A read-only folder (EACCES) or file system (EROFS) refuses the temporary file; these tests run as root,
    which ignores folder permissions, so the refusal is injected where the OS would give it."""
    target = tmp_path / "digest.json"
    target.write_text(OLD)
    monkeypatch.setattr(files.tempfile, "mkstemp", fail("mkstemp", code))
    with pytest.raises(WriteFailed, match=f"cannot write {target}: {os.strerror(code)}$"):
        write_atomic(target, "new")
    assert target.read_text() == OLD


def test_a_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "preview-out").write_text("a file where a folder belongs")
    with pytest.raises(WriteFailed, match="cannot write .*preview-out/dev.mmd: Not a directory"):
        write_atomic(tmp_path / "preview-out" / "dev.mmd", "graph")


def test_a_write_replaces_the_whole_file(tmp_path):
    target = tmp_path / "graph.mmd"
    target.write_text("x" * 10_000)
    write_atomic(target, "short")
    assert target.read_text() == "short"


def lock_without_the_newest_version(tmp_path):
    """A copy of the committed lock missing its last locked version, so --add has something to write."""
    document = json.loads(model_lock_file().read_text())
    name = next(iter(document["models"]))
    document["models"][name].pop(max(document["models"][name], key=int))
    lock = tmp_path / "models.lock.json"
    lock.write_text(json.dumps(document))
    return lock


@pytest.mark.parametrize("fault", ["write: disk full", "fsync fails", "rename fails"])
def test_model_lock_add_under_a_fault_keeps_the_old_lock_and_says_one_line(tmp_path, monkeypatch, capsys, fault):
    lock = lock_without_the_newest_version(tmp_path)
    before = lock.read_bytes()
    FAULTS[fault](monkeypatch)
    assert model_lock.main(["--add", "--lock-file", str(lock)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {lock}: ") and err.count("\n") == 1, err
    assert lock.read_bytes() == before


def test_model_lock_add_writes_atomically(tmp_path, capsys):
    lock = lock_without_the_newest_version(tmp_path)
    assert model_lock.main(["--add", "--lock-file", str(lock)]) == 0
    assert json.loads(lock.read_text())["models"] == json.loads(model_lock_file().read_text())["models"]
    assert "locked " in capsys.readouterr().out


def test_a_model_lock_run_that_exits_2_writes_nothing(tmp_path, capsys):
    lock = lock_without_the_newest_version(tmp_path)
    document = json.loads(lock.read_text())
    name = next(iter(document["models"]))
    document["models"][name]["1"] = "sha256:" + "0" * 64  # a locked version whose content "changed"
    lock.write_text(json.dumps(document))
    before = lock.read_bytes()
    assert model_lock.main(["--add", "--lock-file", str(lock)]) == 2
    assert lock.read_bytes() == before
    assert "changed since" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, entry",
    [
        (b"", "not JSON"),
        (b"[]", "must be an object"),
        (b'{"models": {"sklearn-regression": {"1": 7}}}', "models.sklearn-regression.1 must be 'sha256:<64 hex digits>'"),
        (
            b'{"models": {"sklearn-regression": {"v1": "sha256:' + b"0" * 64 + b'"}}}',
            "models.sklearn-regression.'v1' is not a model version",
        ),
        (b"[" * 200_000, "nested too deeply"),
    ],
)
def test_model_lock_names_the_lock_file_and_entry_in_one_line(tmp_path, capsys, content, entry):
    lock = tmp_path / "models.lock.json"
    lock.write_bytes(content)
    assert model_lock.main(["--lock-file", str(lock)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {lock}: ") and entry in err and err.count("\n") == 1, err


def test_preview_and_plan_diff_say_one_line_when_their_report_cannot_be_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files.os, "fsync", fail("fsync", errno.ENOSPC))
    graph = tmp_path / "dev.mmd"
    assert preview.main(["--stack", "dev", "--graph", str(graph)]) == 1
    assert capsys.readouterr().err == f"error: cannot write {graph}: No space left on device\n"
    assert not graph.exists()
    digest = tmp_path / "digest.json"
    assert plan_diff.main(["--stack", "dev", "--from", str(project_dir() / "Pulumi.dev.yaml"), "--digest", str(digest)]) == 1
    assert capsys.readouterr().err == f"error: cannot write {digest}: No space left on device\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, the device that is always a full disk")
@pytest.mark.parametrize(
    "tool, arguments",
    [
        ("guard", ["{preview}"]),
        ("drift", ["{refresh}"]),
        ("preview", ["--stack", "dev", "--graph", "{tmp}/g.mmd"]),
        ("plan_diff", ["--stack", "dev", "--from", "{project}/Pulumi.dev.yaml", "--to", "{project}/Pulumi.dev.yaml"]),
    ],
)
def test_a_full_disk_on_stdout_is_one_line(tmp_path, tool, arguments):
    """stdout on /dev/full: every write fails with ENOSPC, as on a full disk."""
    import subprocess
    import sys

    from azureml_endpoints.paths import REPO  # the commands run from the repository, as in CI

    preview_json = tmp_path / "preview.json"
    preview_json.write_text(json.dumps({"steps": [], "changeSummary": {"same": 1}}))
    refresh = tmp_path / "refresh.json"
    urn = "urn:pulumi:dev::azureml-endpoints::azure-native:storage:StorageAccount::a"
    state = {"urn": urn, "type": "azure-native:storage:StorageAccount", "custom": True, "inputs": {}, "outputs": {}}
    event = {"resourcePreEvent": {"metadata": {"op": "refresh", "urn": urn, "type": state["type"], "old": state, "new": state}}}
    refresh.write_text(json.dumps(event) + "\n")
    argv = [a.format(preview=preview_json, refresh=refresh, tmp=tmp_path, project=project_dir()) for a in arguments]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", f"azureml_endpoints.cli.{tool}", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=300,
        )
    lines = [line for line in done.stderr.splitlines() if not line.startswith("note: ")]
    assert lines == ["error: cannot write the output to stdout: No space left on device"], done.stderr
    assert done.returncode == 1
