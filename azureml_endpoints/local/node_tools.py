"""Node tools from the npm registry, installed on first use from azureml_endpoints/local/node/package-lock.json.

One place for every npm package the tests and azureml_endpoints.cli.score_local need (azurite; other streams add theirs to
its package.json). `npm ci` installs exactly the locked versions into its node_modules
(gitignored); a stamp with the lock file's hash makes a changed lock reinstall. A failed install raises:
the tests that need the tool then fail with npm's own message instead of being skipped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent / "node"
STAMP = NODE_DIR / "node_modules" / ".installed-lock-sha256"


class NodeToolError(RuntimeError):
    """npm or the tool is missing, or the install failed."""


def _lock_hash() -> str:
    return hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()


def install() -> None:
    """`npm ci` unless node_modules already holds what the lock file says; no package's install scripts run
    (none of these tools needs one, and a compromised release would run its script on a developer's machine)."""
    if STAMP.is_file() and STAMP.read_text() == _lock_hash():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeToolError("npm is not installed: install Node.js 20 or later (Debian: apt-get install nodejs npm)")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if result.returncode != 0:
        raise NodeToolError(f"npm ci in {NODE_DIR} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    STAMP.write_text(_lock_hash())


def node_tool(name: str) -> Path:
    """Path of an installed package's command (node_modules/.bin/<name>), installing on first use."""
    install()
    path = NODE_DIR / "node_modules" / ".bin" / name
    if not path.exists():
        raise NodeToolError(f"{name} is not a command of any package in {NODE_DIR / 'package.json'}")
    return path
