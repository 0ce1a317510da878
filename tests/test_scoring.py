"""The shipped model and scoring scripts, run the way Azure ML runs them.

init() reads the blob against a loopback HTTPS server that plays the managed identity endpoint and
Blob Storage, so both the REST path (requests) and the SDK path (ManagedIdentityCredential + BlobClient)
really run: token request with the identity's client id, bearer token on the blob read.
"""

import datetime
import importlib.util
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import joblib
import numpy
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import REPO

ML = REPO / "ml"
SAMPLE = (ML / "sample-request.json").read_text()
BLOB_TEXT = (ML / "data" / "hello.txt").read_bytes()
SECRET = "msi-secret-for-tests"
TOKEN = "token-for-tests"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ML / "onlinescoring" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_dir(tmp_path: Path) -> Path:
    """AZUREML_MODEL_DIR as Azure ML mounts a folder model: <dir>/model/<file>."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "sklearn_regression_model.pkl").write_bytes((ML / "model-1" / "model" / "sklearn_regression_model.pkl").read_bytes())
    return tmp_path


def expected_predictions() -> list:
    model = joblib.load(ML / "model-1" / "model" / "sklearn_regression_model.pkl")
    return model.predict(numpy.array(json.loads(SAMPLE)["data"])).tolist()


def test_score_py_predicts(monkeypatch, tmp_path):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir(tmp_path)))
    score = load_script("score.py")
    score.init()
    result = score.run(SAMPLE)
    assert result == expected_predictions()
    assert len(result) == 2 and result[0] != result[1]


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class FakeAzure(BaseHTTPRequestHandler):
    """The managed identity endpoint (/msi) and one blob (/stmlepdevdata/data/hello.txt)."""

    token_requests: list = []
    blob_reads: list = []

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, headers: dict):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/msi":
            if self.headers.get("secret") != SECRET:
                return self._send(401, b"{}", {})
            FakeAzure.token_requests.append(parse_qs(url.query))
            expires = int(datetime.datetime.now().timestamp()) + 3600
            body = {"access_token": TOKEN, "expires_on": expires, "resource": "https://storage.azure.com/", "token_type": "Bearer"}
            return self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        if url.path == "/stmlepdevdata/data/hello.txt":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(403, b"AuthorizationPermissionMismatch", {})
            FakeAzure.blob_reads.append(self.headers.get("x-ms-version"))
            headers = {
                "Content-Type": "text/plain",
                "Content-Range": f"bytes 0-{len(BLOB_TEXT) - 1}/{len(BLOB_TEXT)}",
                "ETag": '"0x8DC0000000000"',
                "Last-Modified": "Sun, 22 Nov 2026 00:00:00 GMT",
                "x-ms-blob-type": "BlockBlob",
                "x-ms-version": self.headers.get("x-ms-version", "2019-02-02"),
                "x-ms-request-id": "00000000-0000-0000-0000-000000000000",
            }
            return self._send(206 if self.headers.get("Range") else 200, BLOB_TEXT, headers)
        self._send(404, b"", {})


@pytest.fixture
def fake_azure(tmp_path, monkeypatch):
    cert, key = _certificate(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAzure)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeAzure.token_requests, FakeAzure.blob_reads = [], []
    base = f"https://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # requests and azure-core both honour it
    monkeypatch.setenv("MSI_ENDPOINT", f"{base}/msi")
    monkeypatch.setenv("MSI_SECRET", SECRET)
    # Path-style account URL, as for IP endpoints (the SDK parses the account from the first segment).
    monkeypatch.setenv("STORAGE_BLOB_ENDPOINT", f"{base}/stmlepdevdata/")
    monkeypatch.setenv("STORAGE_ACCOUNT_NAME", "stmlepdevdata")
    monkeypatch.setenv("STORAGE_CONTAINER_NAME", "data")
    monkeypatch.setenv("FILE_NAME", "hello.txt")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir(tmp_path)))
    yield FakeAzure
    server.shutdown()
    server.server_close()


def test_managed_identity_script_user_assigned(fake_azure, monkeypatch):
    monkeypatch.setenv("UAI_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
    score = load_script("score_managedidentity.py")
    assert score.access_blob_storage_rest() == BLOB_TEXT.decode()
    assert score.access_blob_storage_sdk() == BLOB_TEXT.decode()
    score.init()
    assert score.run(SAMPLE) == expected_predictions()
    # Both paths asked for a storage token for the user-assigned identity, then read the blob with it.
    assert len(fake_azure.token_requests) >= 3
    for request in fake_azure.token_requests:
        assert request["clientid"] == ["11111111-2222-3333-4444-555555555555"]
        assert request["resource"][0].rstrip("/") == "https://storage.azure.com"  # the SDK drops the slash
    assert len(fake_azure.blob_reads) == 4


def test_managed_identity_script_system_assigned(fake_azure, monkeypatch):
    monkeypatch.delenv("UAI_CLIENT_ID", raising=False)
    score = load_script("score_managedidentity.py")
    score.init()
    assert score.run(SAMPLE) == expected_predictions()
    assert fake_azure.token_requests and all("clientid" not in r for r in fake_azure.token_requests)


def test_init_fails_when_the_identity_cannot_read(fake_azure, monkeypatch):
    monkeypatch.setenv("MSI_SECRET", "wrong")
    score = load_script("score_managedidentity.py")
    with pytest.raises(Exception, match="401"):
        score.init()
