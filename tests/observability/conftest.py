"""Scraping /metrics the way Prometheus does, and reading one sample of it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

# The job tests' clock (the callers are tests/conftest.py's).
from tests.jobs.conftest import QUIET_SWEEPS, clock  # noqa: F401


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(QUIET_SWEEPS)


class Scrape:
    """One scrape, parsed: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        """The sample `name` whose labels include `labels` (None: there is none)."""
        found = [
            sample.value
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
        ]
        assert len(found) <= 1, f"{name} {labels} matches {len(found)} samples"
        return found[0] if found else None

    def labels(self, name: str, label: str) -> set[str]:
        return {
            sample.labels[label] for sample in self.samples if sample.name == name and label in sample.labels
        }


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return Scrape(response.text)
