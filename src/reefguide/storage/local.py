"""Result files in the data directory, behind signed, expiring URLs the API serves.

A file of `local://results/test/1/1` named `out/a.txt` lives at
`<data_dir>/storage/results/test/1/1/out/a.txt` and is reached through
`{API_DOMAIN}/api/storage/results/test/1/1/out/a.txt?expires=…&signature=…`, where
the signature is an HMAC-SHA256 of the method, that path and the expiry, keyed by a
secret kept in `<data_dir>/storage-secret`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterable
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote, urlencode

from reefguide.errors import ApiError, BadRequest, Conflict, Forbidden
from reefguide.storage.base import TooManyFiles, check_prefix, check_relative_path, results_path

URI_SCHEME = "local://"
ROUTE_PREFIX = "/api/storage/"
# Where URLs point when neither API_DOMAIN nor the request says (not in a request).
DEFAULT_BASE_URL = "http://localhost:5000"
SECRET_BYTES = 32
# Uploads reach the disk in pieces of about this size, each written off the event loop.
WRITE_BUFFER_BYTES = 1024 * 1024
# Where uploads are written before they are renamed into place (inside the root, so
# on the same file system, and outside every assignment's folder, so never listed).
UPLOADS_DIR = ".uploads"

Method = Literal["GET", "PUT"]


class InsufficientStorage(ApiError):
    status_code = 507
    default_message = "The server has no room left to store this file"


class LocalStorage:
    scheme = "LOCAL"

    def __init__(self, *, data_dir: Path, api_domain: str | None) -> None:
        """`api_domain`: the API's public address (API_DOMAIN) if configured; else each
        URL starts with the address its request came to."""
        self.root = Path(data_dir).absolute() / "storage"
        self._secret_path = Path(data_dir).absolute() / "storage-secret"
        self._secret: bytes | None = None
        self._api_domain = api_domain.rstrip("/") if api_domain else None

    def location(self, job_type: str, job_id: int, attempt: int) -> str:
        return URI_SCHEME + results_path(job_type, job_id, attempt)

    async def upload_urls(
        self, storage_uri: str, files: list[str], expires_seconds: int, *, base_url: str | None = None
    ) -> dict[str, str]:
        base = _uri_path(storage_uri)
        paths = {file: check_relative_path(file) for file in files}
        secret = await self._key()
        expires = int(time.time()) + expires_seconds
        root = self._root_url(base_url)
        return {
            file: self._url(root, secret, "PUT", f"{base}/{path}", expires) for file, path in paths.items()
        }

    async def download_urls(
        self,
        storage_uri: str,
        *,
        prefix: str | None,
        max_files: int,
        expires_seconds: int,
        base_url: str | None = None,
    ) -> dict[str, str]:
        base = _uri_path(storage_uri)
        wanted = check_prefix(prefix)
        stored = await asyncio.to_thread(self._list_files, base)
        paths = [path for path in stored if path.startswith(wanted)]
        if len(paths) > max_files:
            raise TooManyFiles(len(paths), max_files)
        secret = await self._key()
        expires = int(time.time()) + expires_seconds
        root = self._root_url(base_url)
        return {path: self._url(root, secret, "GET", f"{base}/{path}", expires) for path in paths}

    def _root_url(self, base_url: str | None) -> str:
        return (self._api_domain or (base_url or DEFAULT_BASE_URL).rstrip("/")) + ROUTE_PREFIX

    # Serving the URLs.

    async def authorize(self, method: Method, path: str, expires: str, signature: str) -> Path:
        """The file a signed URL stands for. 400 when the path is malformed (checked
        first, before anything else in the request is looked at) or leads out of the
        storage root through a link; 403 when the signature is wrong, made for another
        method, or expired."""
        key = check_relative_path(path)
        if key != path:
            raise BadRequest("File path is not in its normal form")
        secret = await self._key()
        expected = _signature(secret, method, key, expires)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise Forbidden("Invalid signature")
        if int(expires) < time.time():
            raise Forbidden("This URL has expired")
        return await asyncio.to_thread(self._inside_root, key)

    async def is_file(self, target: Path) -> bool:
        return await asyncio.to_thread(target.is_file)

    async def write(self, target: Path, chunks: AsyncIterable[bytes]) -> None:
        """Store a streamed body at `target`: written to a temporary file, then renamed,
        so a reader sees the old file or the whole new one, never a part."""
        temporary: Path | None = None
        try:
            file, part = await asyncio.to_thread(self._temporary_file)
            temporary = part
            with file:
                buffer = bytearray()
                async for chunk in chunks:
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER_BYTES:
                        await asyncio.to_thread(file.write, buffer)
                        buffer = bytearray()
                await asyncio.to_thread(_finish, file, buffer)
            await asyncio.to_thread(_move_into_place, part, target)
        except BaseException as exc:
            # Whatever went wrong (a body over the limit, a client gone, a cancelled
            # request, a full disk), nothing of this upload is kept.
            if temporary is not None:
                _discard(temporary)
            error = _storage_error(exc) if isinstance(exc, OSError) else None
            if error is None:
                raise
            raise error from exc

    # Blocking helpers, run in a worker thread.

    def _inside_root(self, key: str) -> Path:
        root = self.root.resolve()
        # resolve() follows every symbolic link that exists, so a link inside the root
        # that points out of it is caught here.
        target = (root / key).resolve()
        if target == root or not target.is_relative_to(root):
            raise BadRequest("File path leads out of the storage root")
        return target

    def _list_files(self, base: str) -> list[str]:
        folder = self.root / base
        found: list[str] = []
        for directory, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(directory) / name
                if not path.is_symlink() and path.is_file():
                    found.append(path.relative_to(folder).as_posix())
        return sorted(found)

    def _temporary_file(self) -> tuple[BinaryIO, Path]:
        directory = self.root / UPLOADS_DIR
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=directory, suffix=".part")
        return os.fdopen(descriptor, "wb"), Path(name)

    async def _key(self) -> bytes:
        if self._secret is None:
            self._secret = await asyncio.to_thread(load_or_create_secret, self._secret_path)
        return self._secret

    def _url(self, root: str, secret: bytes, method: Method, key: str, expires: int) -> str:
        query = urlencode({"expires": expires, "signature": _signature(secret, method, key, str(expires))})
        return f"{root}{quote(key, safe='/')}?{query}"


def load_or_create_secret(path: Path) -> bytes:
    """The signing secret, made on first use. Written to a private temporary file and
    hard-linked into place, so two processes starting at once agree on one secret and
    neither reads a half-written file."""
    with contextlib.suppress(FileNotFoundError):
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".storage-secret-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(SECRET_BYTES))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(name, path)
    finally:
        os.unlink(name)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = path.read_bytes()
    if len(secret) < SECRET_BYTES // 2:
        raise ValueError(f"{path} holds fewer than {SECRET_BYTES // 2} bytes; delete it to make a new one")
    return secret


def _uri_path(storage_uri: str) -> str:
    if not storage_uri.startswith(URI_SCHEME):
        raise ValueError(f"Not a local storage URI: {storage_uri!r}")
    return check_relative_path(storage_uri.removeprefix(URI_SCHEME))


def _signature(secret: bytes, method: Method, key: str, expires: str) -> str:
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        raise Forbidden("Invalid signature")
    message = f"{method}\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _finish(file: BinaryIO, rest: bytes | bytearray) -> None:
    file.write(rest)
    file.flush()
    os.fsync(file.fileno())


def _move_into_place(temporary: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, target)


def _discard(temporary: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)


def _storage_error(exc: OSError) -> ApiError | None:
    """The answer to a write that failed for a known reason; None otherwise (a 500)."""
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        return InsufficientStorage()
    if exc.errno in {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY}:
        # `a` stored as a file, then `a/b` (or the other way round).
        return Conflict("A file and a folder cannot have the same path")
    return None
