"""Result files in S3 (or any S3-compatible store), through presigned URLs.

The API holds the credentials (boto3's usual chain: environment, profile, task or
instance role); workers and users only ever see presigned URLs. boto3 blocks, so
every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Literal

import boto3
from botocore.config import Config

from reefguide.storage.base import TooManyFiles, check_prefix, check_relative_path, media_type, results_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

URI_SCHEME = "s3://"


class S3Storage:
    scheme = "S3"

    def __init__(self, *, bucket: str, endpoint: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        # S3-compatible stores (MinIO, moto) are usually reached by address, where a
        # bucket cannot be a host name: address buckets by path there.
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint else "auto"},
        )
        self._client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=region, config=config
        )

    def location(self, job_type: str, job_id: int, attempt: int) -> str:
        return f"{URI_SCHEME}{self.bucket}/{results_path(job_type, job_id, attempt)}"

    async def upload_urls(
        self, storage_uri: str, files: list[str], expires_seconds: int, *, base_url: str | None = None
    ) -> dict[str, str]:
        bucket, base = _parse(storage_uri)
        keys = {file: f"{base}/{check_relative_path(file)}" for file in files}
        return await asyncio.to_thread(self._presign, "put_object", bucket, keys, expires_seconds)

    async def download_urls(
        self,
        storage_uri: str,
        *,
        prefix: str | None,
        max_files: int,
        expires_seconds: int,
        base_url: str | None = None,
    ) -> dict[str, str]:
        bucket, base = _parse(storage_uri)
        folder = f"{base}/"
        stored = await asyncio.to_thread(self._list_keys, bucket, folder + check_prefix(prefix))
        # Keys ending in "/" are the folder markers some tools write, not files.
        keys = {key.removeprefix(folder): key for key in stored if not key.endswith("/")}
        if len(keys) > max_files:
            raise TooManyFiles(len(keys), max_files)
        return await asyncio.to_thread(self._presign, "get_object", bucket, keys, expires_seconds)

    def _list_keys(self, bucket: str, prefix: str) -> list[str]:
        # Every page: the error for too many files says how many there are.
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def _presign(
        self,
        operation: Literal["put_object", "get_object"],
        bucket: str,
        keys: dict[str, str],
        expires_seconds: int,
    ) -> dict[str, str]:
        urls: dict[str, str] = {}
        for name, key in keys.items():
            params: dict[str, str] = {"Bucket": bucket, "Key": key}
            if operation == "get_object":
                # Served with the same Content-Type as local storage, whatever the upload sent.
                params["ResponseContentType"] = media_type(key)
            urls[name] = self._client.generate_presigned_url(
                operation, Params=params, ExpiresIn=expires_seconds
            )
        return urls


def _parse(storage_uri: str) -> tuple[str, str]:
    """`s3://bucket/results/test/1/1` -> ("bucket", "results/test/1/1")."""
    bucket, _, base = storage_uri.removeprefix(URI_SCHEME).partition("/")
    if not storage_uri.startswith(URI_SCHEME) or not bucket:
        raise ValueError(f"Not an S3 storage URI: {storage_uri!r}")
    return bucket, check_relative_path(base)
