"""What every result-file store offers, and the rules for the paths workers name.

Workers never hold storage credentials: the API hands them URLs to PUT each file
to, and users URLs to GET them from. The rest of the code sees only `Storage`.
"""

from __future__ import annotations

import mimetypes
from typing import Protocol

from reefguide.errors import BadRequest

MAX_PATH_CHARS = 1024
# Most file systems refuse a longer file or directory name.
MAX_SEGMENT_BYTES = 255
# Result files the standard table does not know.
MEDIA_TYPES = {
    ".geojson": "application/geo+json",
    ".parquet": "application/vnd.apache.parquet",
    ".nc": "application/x-netcdf",
}


class Storage(Protocol):
    # "LOCAL" or "S3", as stored in job_assignments.storage_scheme.
    scheme: str

    def location(self, job_type: str, job_id: int, attempt: int) -> str:
        """The storage URI of one assignment's files."""
        ...

    async def upload_urls(
        self, storage_uri: str, files: list[str], expires_seconds: int, *, base_url: str | None = None
    ) -> dict[str, str]:
        """For each relative path, a URL the worker PUTs the file's body to.

        `base_url`: the API's address as the caller reached it, for URLs the API
        serves itself when API_DOMAIN is not set (S3's URLs do not need it)."""
        ...

    async def download_urls(
        self,
        storage_uri: str,
        *,
        prefix: str | None,
        max_files: int,
        expires_seconds: int,
        base_url: str | None = None,
    ) -> dict[str, str]:
        """For each file under `storage_uri` (whose relative path starts with `prefix`,
        when given), a URL to GET it from. More than `max_files` raises TooManyFiles."""
        ...


class TooManyFiles(BadRequest):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"There are {count} files, more than the limit of {limit}; narrow them with a prefix"
        )
        self.count = count
        self.limit = limit


def check_relative_path(path: str) -> str:
    """A path a file may be stored under, relative to its assignment's location:
    `a/b.txt`, never `/a`, `a/../b`, `a\\b` or `a//b`. Returns it without `.` segments."""
    if len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"File path is longer than {MAX_PATH_CHARS} characters")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise BadRequest("File path contains a control character")
    if "\\" in path:
        raise BadRequest("File path contains a backslash; separate folders with '/'")
    if path.startswith("/"):
        raise BadRequest("File path must be relative")
    segments = [segment for segment in path.split("/") if segment != "."]
    if not segments:
        raise BadRequest("File path is empty")
    for segment in segments:
        if segment == "":
            raise BadRequest("File path has an empty segment ('//' or a trailing '/')")
        if segment == "..":
            raise BadRequest("File path must not contain '..'")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise BadRequest(f"A file or folder name is longer than {MAX_SEGMENT_BYTES} bytes")
    return "/".join(segments)


def check_prefix(prefix: str | None) -> str:
    """A filter on relative paths, as S3 prefixes work: `out` matches `out.txt` and
    `outputs/a.txt`; `outputs/` only what is in that folder. None or "" matches all."""
    if not prefix:
        return ""
    if prefix.endswith("/"):
        return check_relative_path(prefix[:-1]) + "/"
    return check_relative_path(prefix)


def results_path(job_type: str, job_id: int, attempt: int) -> str:
    """Where one assignment's files go, relative to the store's root."""
    return check_relative_path(f"results/{job_type.lower()}/{job_id}/{attempt}")


def media_type(path: str) -> str:
    """The Content-Type a download is served with, from the file's extension, the same
    on every backend."""
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
