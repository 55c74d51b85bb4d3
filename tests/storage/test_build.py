"""Which backend the settings choose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reefguide.auth.keys import KeyPair
from reefguide.storage import build_storage
from reefguide.storage.local import LocalStorage
from reefguide.storage.s3 import S3Storage
from tests.conftest import make_settings


def build(tmp_path: Path, key_pair: KeyPair, **overrides: Any) -> object:
    return build_storage(make_settings("sqlite:///unused.db", tmp_path, key_pair, **overrides))


def test_local_storage_is_the_default(tmp_path: Path, key_pair: KeyPair) -> None:
    storage = build(tmp_path, key_pair)
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "storage"


def test_a_bucket_name_chooses_s3(tmp_path: Path, key_pair: KeyPair, aws_credentials: None) -> None:
    storage = build(tmp_path, key_pair, s3_bucket_name="results", s3_region="ap-southeast-2")
    assert isinstance(storage, S3Storage)
    assert storage.location("TEST", 1, 1) == "s3://results/results/test/1/1"


def test_local_can_be_chosen_beside_a_bucket_name(tmp_path: Path, key_pair: KeyPair) -> None:
    storage = build(tmp_path, key_pair, storage="local", s3_bucket_name="results")
    assert isinstance(storage, LocalStorage)


def test_building_local_storage_touches_no_file(tmp_path: Path, key_pair: KeyPair) -> None:
    build(tmp_path, key_pair)
    assert list(tmp_path.iterdir()) == []
