"""Every file a tool writes is written whole or not at all.

A file is written to a temporary file in its own folder, flushed to disk (fsync), then renamed over the old one:
`os.replace` is atomic on one file system (POSIX rename(2)), so a kill, a full disk (ENOSPC), an I/O error or a
file-size limit at any point leaves either the old file or the new one, never a truncated one. The folder is
fsynced after the rename so the new name itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


class WriteFailed(Exception):
    """A file could not be written; the message is one line naming the path, and the old file is unchanged."""


def write_atomic(path: Path | str, text: str) -> None:
    """Replace `path` with `text` (UTF-8), atomically; raise WriteFailed naming the path on any OS error."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        temporary = None
        _sync_folder(folder)
    except OSError as error:
        raise WriteFailed(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    """Persist the rename; a file system that cannot open folders for syncing (some do not) keeps the rename."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_stdout(text: str) -> bool:
    """Prints `text` (and a newline) and flushes it; False, after one line on stderr, when stdout cannot take it
    (a full disk: ENOSPC, a closed pipe), instead of a traceback now or an "Exception ignored" at exit."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return True
    except OSError as error:
        with contextlib.suppress(OSError, ValueError):  # what stays buffered goes nowhere, so exit does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"error: cannot write the output to stdout: {error.strerror or error}", file=sys.stderr)
        return False
