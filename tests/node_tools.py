"""Node tools the tests run, from tests/node/package.json: installed once per checkout with `npm ci`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent / "node"


def node_bin(name: str) -> Path:
    """The path of an installed package's command; runs `npm ci` first when the lock file is newer."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is required for the tests (Debian: apt-get install npm)")
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--ignore-scripts", "--no-audit", "--no-fund"],
                       check=True, capture_output=True, text=True, timeout=300)
    command = NODE_DIR / "node_modules" / ".bin" / name
    if not command.exists():
        raise RuntimeError(f"{name} is not in tests/node/package.json")
    return command
