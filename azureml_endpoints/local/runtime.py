"""The pieces Azure ML runs scoring code with, stood up on this machine, loopback only.

- `python_env(conda_file)`: a virtual environment, made by the conda file's Python version, with the conda
  file's packages (its conda dependencies mapped to pip packages of the same name and version, then its
  `pip:` list), so the code runs against Microsoft's own runtime packages (`azureml-inference-server-http`,
  the batch runtime's `azureml-core`), not the program's venv.
- `TokenEndpoint`: the managed identity endpoint Azure ML gives a deployment (MSI_ENDPOINT + MSI_SECRET,
  `clientid` for a user-assigned identity). It issues tokens with the claims Azure Storage checks
  (audience = the requested resource, Entra issuer, lifetime) and records every request.
- `Azurite`: Microsoft's storage emulator (npm), HTTPS with a self-signed certificate and `--oauth basic`, so
  a blob read needs a bearer token whose audience and lifetime Azurite validates.
- `InferenceServer`: `azureml-inference-server-http` serving an entry script, bound to 127.0.0.1.

Used by the tests and by `azureml-endpoints score-local`. Every server here listens on 127.0.0.1 only and is
stopped by its context manager.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

# One venv per distinct interpreter and pip list, named by their hash, so a cache shared by every checkout (and CI
# on the same machine) is safe: a changed list builds a new venv. AZUREML_ENDPOINTS_RUNTIME_DIR moves it.
RUNTIME_DIR = Path(
    os.environ.get("AZUREML_ENDPOINTS_RUNTIME_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "azureml-endpoints" / "runtime"
)
LOOPBACK = "127.0.0.1"
TENANT_ID = "00000000-0000-4000-8000-0000000000aa"  # the emulated tenant
# Azurite's documented development account key: public, accepted only by the emulator.
EMULATOR_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class RuntimeSetupError(RuntimeError):
    """A local server did not start (or an environment could not be built); the message says why."""


class EnvironmentBuildError(RuntimeSetupError):
    """pip could not build an environment (no registry, or pins that do not resolve)."""


class InterpreterMissing(EnvironmentBuildError):
    """The conda file's Python version is not installed on this machine."""


# --- python environments ------------------------------------------------------------------------------------------


# Conda dependencies that are the environment's tooling, not packages of the scoring code: the venv has its own pip.
_CONDA_TOOLING = {"pip"}
_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?(?P<name>[A-Za-z0-9_.-]+)\s*(?P<op>==|=|>=|<=|!=|>|<|~=)?\s*(?P<version>[^=\s]*)(?:=\S+)?$")


@dataclass(frozen=True)
class CondaEnvironment:
    """What a conda file asks for, as this machine can build it: an interpreter version and one pip list."""

    python: str | None  # "3.12" from `python=3.12` (or 3.12.4: a venv takes the minor version's interpreter)
    requirements: list[str]  # the mapped conda dependencies first, then the `pip:` list, as Azure installs them
    from_conda: dict[str, str]  # pip requirement -> the conda dependency it was mapped from


def read_conda_environment(conda_file: Path) -> CondaEnvironment:
    """A conda file's Python, its conda dependencies mapped to pip requirements of the same name and version, and its pip list.

    Azure ML builds the image with conda, so a conda dependency such as Microsoft's model-1 sample's
    `scikit-learn=1.7.0` is installed there; here it becomes `scikit-learn==1.7.0` (conda's `=1.7` is a
    prefix match, pip's `==1.7.*`). A dependency with no pip package of that name and version fails the
    build with an error that names it (`python_env`).
    """
    try:
        document = yaml.safe_load(conda_file.read_text()) or {}
    except yaml.YAMLError as error:
        raise EnvironmentBuildError(f"{conda_file.name} is not YAML: {error}") from None
    python, mapped, pip, from_conda = None, [], [], {}
    for dependency in document.get("dependencies") or []:
        if isinstance(dependency, dict):
            pip += [str(p) for p in dependency.get("pip") or []]
            continue
        spec = _CONDA_SPEC.match(str(dependency).strip())
        if not spec:
            raise EnvironmentBuildError(f"{conda_file.name}: the conda dependency {dependency!r} is not <name>[=<version>]")
        name, op, version = spec["name"], spec["op"], spec["version"]
        if name.lower() == "python":
            python = ".".join(version.split(".")[:2]) if version and op in ("=", "==") else None
            continue
        if name.lower() in _CONDA_TOOLING:
            continue
        if not op:
            requirement = name
        elif op == "=":
            requirement = f"{name}=={version}" if version.count(".") >= 2 else f"{name}=={version.rstrip('.*')}.*"
        else:
            requirement = f"{name}{op}{version}"
        mapped.append(requirement)
        from_conda[requirement] = str(dependency)
    if not mapped and not pip:
        raise EnvironmentBuildError(f"{conda_file.name}: no dependencies to install")
    return CondaEnvironment(python, mapped + pip, from_conda)


def conda_pip_requirements(conda_file: Path) -> list[str]:
    """The pip list a conda file becomes here (its conda dependencies mapped, then its `pip:` list)."""
    return read_conda_environment(conda_file).requirements


def conda_python(conda_file: Path) -> str | None:
    return read_conda_environment(conda_file).python


def interpreter(version: str | None) -> Path:
    """The Python that runs `version` ("3.12"): this one when it matches, else a working `python3.12` on PATH."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version is None or version == running:
        return Path(sys.executable)
    found = shutil.which(f"python{version}")
    if found:
        try:
            answer = subprocess.run(
                [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=30,
            )
            if answer.returncode == 0 and answer.stdout.strip() == version:
                return Path(found)
        except (OSError, subprocess.TimeoutExpired):
            pass  # a shim that cannot run is no interpreter
    raise InterpreterMissing(
        f"the conda file asks for Python {version}, and no working python{version} is on PATH "
        f"(this is Python {running}): install Python {version} so that python{version} runs, or change the conda file's python="
    )


def python_env(conda_file: Path, base: Path = RUNTIME_DIR, extra: list[str] | None = None) -> Path:
    """Python of a venv built with the conda file's interpreter and pip list (plus `extra`); built once per distinct list."""
    conda = read_conda_environment(conda_file)
    requirements = [*conda.requirements, *(extra or [])]
    try:
        return requirements_env(conda_file.stem, requirements, base, interpreter(conda.python))
    except EnvironmentBuildError as error:
        for requirement, dependency in conda.from_conda.items():
            if _not_on_index(requirement, str(error)):
                raise EnvironmentBuildError(
                    f"{conda_file.name}: the conda dependency {dependency!r} has no pip package {requirement} on the package index, "
                    "so it cannot be installed here: list its PyPI name and version under pip: in the conda file "
                    "(or remove it if the scoring code does not import it)"
                ) from None
        raise


def _not_on_index(requirement: str, pip_error: str) -> bool:
    text = pip_error.lower()
    return any(
        f"{phrase} {requirement.lower()}" in text
        for phrase in ("no matching distribution found for", "could not find a version that satisfies the requirement")
    )


def requirements_env(name: str, requirements: list[str], base: Path = RUNTIME_DIR, python: Path | None = None) -> Path:
    """Python of a venv made by `python` (default: this one), named after `name` and a hash of both, built once."""
    python = python or Path(sys.executable)
    if python == Path(sys.executable):
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
    else:
        version = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
        ).stdout.strip()
    key = hashlib.sha256("\n".join([version, *requirements]).encode()).hexdigest()[:12]
    built = sorted(base.glob(f"*-{key}/.complete"))  # the same interpreter and list, whichever file it came from
    if built:
        return built[0].parent / "bin" / "python"
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{key}.lock", "w") as lock:  # two processes never build (or half-delete) the same venv
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = sorted(base.glob(f"*-{key}/.complete"))  # built by whoever held the lock before
        if built:
            return built[0].parent / "bin" / "python"
        return _build_env(base / f"{name}-{key}", name, requirements, python)


def _build_env(target: Path, name: str, requirements: list[str], python: Path) -> Path:
    venv_python, done = target / "bin" / "python", target / ".complete"
    shutil.rmtree(target, ignore_errors=True)  # a half-built environment from an interrupted run
    steps = [
        [str(python), "-m", "venv", str(target)],
        [str(venv_python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=1800)
        if result.returncode != 0:
            raise EnvironmentBuildError(f"building the {name} environment failed: {' '.join(step[:4])} ...\n{result.stderr[-3000:]}")
    done.write_text("\n".join(requirements) + "\n")
    return venv_python


# --- loopback helpers ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (made now, valid one day) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "loopback-cert.pem", folder / "loopback-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def _wait_for(check, process: subprocess.Popen, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeSetupError(f"{what} exited with {process.returncode}:\n{log.read_text()[-20000:]}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeSetupError(f"{what} did not come up within {seconds:.0f} s:\n{log.read_text()[-20000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


# --- the managed identity endpoint --------------------------------------------------------------------------------


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TokenEndpoint:
    """MSI_ENDPOINT as Azure ML serves it to a deployment: GET ?resource=..&clientid=.., header `secret`.

    Tokens are JWTs with the claims Azurite checks (aud, iss, nbf, exp, iat), unsigned: Azurite's
    `--oauth basic` validates claims, not signatures. `requests` records every token request's query.
    """

    def __init__(self, principal_id: str = "00000000-0000-4000-8000-0000000000b1"):
        self.secret = "local-msi-secret"
        self.principal_id = principal_id
        self.requests: list[dict[str, list[str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if self.headers.get("secret") != endpoint.secret:
                    return self._answer(401, {"error": "invalid_request", "error_description": "wrong or missing secret header"})
                if not query.get("resource"):
                    return self._answer(400, {"error": "invalid_request", "error_description": "resource is required"})
                endpoint.requests.append(query)
                now = int(time.time())
                resource = query["resource"][0]
                claims = {
                    "aud": resource.rstrip("/"),
                    "iss": f"https://sts.windows.net/{TENANT_ID}/",
                    "iat": now,
                    "nbf": now,
                    "exp": now + 3600,
                    "oid": endpoint.principal_id,
                    "tid": TENANT_ID,
                    "appid": query.get("clientid", [endpoint.principal_id])[0],
                }
                token = f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}."
                self._answer(200, {"access_token": token, "expires_on": now + 3600, "resource": resource, "token_type": "Bearer"})

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}/msi/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- Azurite ------------------------------------------------------------------------------------------------------


class Azurite:
    """Azurite's blob service over HTTPS with OAuth, one account named as the stack's data account."""

    def __init__(self, account: str, folder: Path):
        self.account = account
        self.folder = folder
        self.cert, self.key = self_signed_certificate(folder)
        self.port = free_port()
        self.blob_endpoint = f"https://{LOOPBACK}:{self.port}/{account}/"  # path-style, as for IP hosts
        self.log = folder / "azurite.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> Azurite:
        from azureml_endpoints.local.node_tools import node_tool

        command = [
            str(node_tool("azurite-blob")),
            "--blobHost",
            LOOPBACK,
            "--blobPort",
            str(self.port),
            "--cert",
            str(self.cert),
            "--key",
            str(self.key),
            "--oauth",
            "basic",
            "--inMemoryPersistence",
            "--disableTelemetry",
            # azure-storage-blob sends its newest service version, which may postdate the emulator's release.
            "--skipApiVersionCheck",
        ]
        env = {**os.environ, "AZURITE_ACCOUNTS": f"{self.account}:{EMULATOR_KEY}"}
        self._process = subprocess.Popen(
            command, stdout=self.log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=str(self.folder)
        )
        _wait_for(lambda: "successfully listens" in self.log.read_text(), self._process, 60, "Azurite", self.log)
        return self

    def __exit__(self, *exc) -> None:
        if self._process:
            _stop(self._process)

    def upload(self, container: str, blob_name: str, data: bytes) -> None:
        """Uploads with the emulator's account key, as azure-native's storage.Blob uploads with the account key."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient(
            self.blob_endpoint.rstrip("/"),
            credential={"account_name": self.account, "account_key": EMULATOR_KEY},
            connection_verify=str(self.cert),
        )
        try:
            service.create_container(container)
        except ResourceExistsError:
            pass
        service.get_blob_client(container, blob_name).upload_blob(data, overwrite=True)


# --- the inference server -----------------------------------------------------------------------------------------

# azmlinfsrv binds gunicorn to 0.0.0.0 (its DEFAULT_HOST); this runs the same entry point bound to loopback.
_LAUNCHER = (
    "import sys\n"
    "from azureml_inference_server_http import amlserver\n"
    f"amlserver.DEFAULT_HOST = {LOOPBACK!r}\n"
    "sys.argv[0] = 'azmlinfsrv'\n"
    "amlserver.run()\n"
)


class InferenceServer:
    """`azureml-inference-server-http` serving `entry_script` from `python`'s environment, on loopback."""

    def __init__(self, python: Path, entry_script: Path, model_dir: Path, env: dict[str, str], folder: Path):
        self.python, self.entry_script, self.model_dir, self.env = python, entry_script, model_dir, env
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log = folder / f"inference-server-{self.port}.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> InferenceServer:
        command = [
            str(self.python),
            "-c",
            _LAUNCHER,
            "--entry_script",
            str(self.entry_script),
            "--model_dir",
            str(self.model_dir),
            "--port",
            str(self.port),
        ]
        env = {**os.environ, **self.env, "AML_APP_ROOT": str(self.entry_script.parent), "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            command,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=str(self.entry_script.parent),
        )
        _wait_for(self._healthy, self._process, 120, "azureml-inference-server-http", self.log)
        return self

    def __exit__(self, *exc) -> None:
        if self._process:
            _stop(self._process)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def score(self, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
        request = urllib.request.Request(f"{self.url}/score", data=body, headers={"Content-Type": content_type}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def output(self) -> str:
        return self.log.read_text()
