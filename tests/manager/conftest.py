"""An environment of the test's own for every manager test: no manager, per-type or
log variables from the caller's shell, and a working directory with no `.env`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from reefguide.manager.config import ENV_SUFFIXES, ManagerSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    names = {
        str(choice)
        for field in ManagerSettings.model_fields.values()
        if field.validation_alias is not None
        for choice in getattr(field.validation_alias, "choices", ())
    }
    for name in list(os.environ):
        if name in names or name.endswith(tuple(f"_{suffix}" for suffix in ENV_SUFFIXES)):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def default_structlog() -> Iterator[None]:
    """structlog as it is before anything configures it (every level passes), whatever
    an earlier test in this process configured; restored afterwards."""
    config = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        structlog.configure(**config)
