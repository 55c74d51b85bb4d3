"""Fixtures for the storage tests: the app's local storage, a raw ASGI request (for
paths a client library would tidy up before sending), and a moto S3 server on
loopback with a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from reefguide.settings import Settings
from reefguide.storage.local import LocalStorage
from reefguide.storage.s3 import S3Storage

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data_dir


@pytest.fixture
def local_storage(app: FastAPI) -> LocalStorage:
    storage = app.state.storage
    assert isinstance(storage, LocalStorage)
    return storage


async def raw_request(app: FastAPI, method: str, raw_path: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send `raw_path` exactly as written (httpx would resolve a literal `..` itself,
    as browsers do; a hand-written client need not)."""
    path, _, query = raw_path.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path.decode("latin-1")),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    sent = False
    status = 0
    response = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            response.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(response)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if not path.is_dir()}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and none of the machine's own profiles or instance roles."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bucket(moto_endpoint: str, aws_credentials: None) -> str:
    name = f"results-{uuid.uuid4().hex[:12]}"
    admin = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_settings(moto_endpoint: str, bucket: str) -> dict[str, Any]:
    return {"storage": "s3", "s3_bucket_name": bucket, "s3_endpoint": moto_endpoint, "s3_region": REGION}


@pytest.fixture
def s3_storage(moto_endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(bucket=bucket, endpoint=moto_endpoint, region=REGION)
