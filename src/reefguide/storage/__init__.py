"""Result files: a `Storage` protocol with a local and an S3 backend."""

from __future__ import annotations

from reefguide.settings import Settings
from reefguide.storage.base import Storage, TooManyFiles, check_relative_path
from reefguide.storage.local import LocalStorage

__all__ = ["Storage", "TooManyFiles", "build_storage", "check_relative_path"]


def build_storage(settings: Settings) -> Storage:
    """The configured backend: S3 when REEFGUIDE_STORAGE says so (or, left on auto,
    when S3_BUCKET_NAME is set), else the data directory."""
    if settings.storage_backend == "s3":
        # Settings refuse s3 without a bucket (settings.py), so one is set here.
        assert settings.s3_bucket_name
        # Imported here: boto3 takes a while to load, and the local shape never needs it.
        from reefguide.storage.s3 import S3Storage

        return S3Storage(
            bucket=settings.s3_bucket_name, endpoint=settings.s3_endpoint, region=settings.s3_region
        )
    return LocalStorage(data_dir=settings.data_dir, api_domain=settings.public_url)
