"""GET /metrics: Prometheus text that parses, behind METRICS_TOKEN when set; requests
by route template; the job counters as the queue moves them; the job gauges read
from the database at each scrape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reefguide.auth.keys import KeyPair
from reefguide.observability.metrics import SOCKETIO_CONNECTIONS
from tests.callers import Caller
from tests.http.conftest import client_for_database, refused_port
from tests.jobs.conftest import QUIET_SWEEPS, Clock, submit
from tests.jobs.helpers import claim, claim_one, report, sweep_leases
from tests.observability.conftest import scrape

TOKEN = "metrics-token-1"
JOB_FAMILIES = ("reefguide_jobs", "reefguide_job_backlog", "reefguide_job_oldest_pending_age_seconds")


async def test_metrics_are_prometheus_text_that_parses(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    scraped = await scrape(client)
    for name in (
        "reefguide_http_request_duration_seconds",
        "reefguide_job_requests",
        "reefguide_job_cache_hits",
        "reefguide_job_leases_expired",
        "reefguide_job_claim_wait_seconds",
        "reefguide_job_run_seconds",
        "reefguide_socketio_connections",
        *JOB_FAMILIES,
        "process_cpu_seconds",
    ):
        assert name in scraped.families, name


async def test_metrics_stay_out_of_the_api_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert "/metrics" not in document["paths"]


async def test_the_socketio_connections_gauge_is_exposed(client: httpx.AsyncClient) -> None:
    scraped = await scrape(client)
    assert scraped.value("reefguide_socketio_connections") == SOCKETIO_CONNECTIONS._value.get()


class TestToken:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {**QUIET_SWEEPS, "metrics_token": TOKEN}

    async def test_without_the_token_the_answer_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics")
        assert response.status_code == 401
        assert response.json() == {"message": "A valid metrics token is required"}
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", "Bearer ", TOKEN, f"Basic {TOKEN}"])
    async def test_a_wrong_token_is_401(self, client: httpx.AsyncClient, authorization: str) -> None:
        response = await client.get("/metrics", headers={"Authorization": authorization})
        assert response.status_code == 401

    async def test_the_bearer_token_opens_it(self, client: httpx.AsyncClient) -> None:
        await scrape(client, headers={"Authorization": f"Bearer {TOKEN}"})


async def test_requests_are_counted_by_route_template_never_the_raw_path(
    client: httpx.AsyncClient, analyst: Caller
) -> None:
    for job_id in (123, 456):
        response = await client.get(f"/api/jobs/{job_id}", headers=analyst.headers)
        assert response.status_code == 404
    await client.get("/api/health")

    scraped = await scrape(client)
    duration = "reefguide_http_request_duration_seconds_count"
    assert scraped.value(duration, method="GET", route="/api/jobs/{job_id}", status="404") == 2
    assert scraped.value(duration, method="GET", route="/api/health", status="200") == 1
    routes = scraped.labels(duration, "route")
    assert not any("123" in route or "456" in route for route in routes)


async def test_a_request_no_route_matches_is_unmatched(client: httpx.AsyncClient) -> None:
    for path in ("/nowhere/1", "/nowhere/2", "/api/no-such-thing"):
        assert (await client.get(path)).status_code == 404
    # A method nobody uses is not a label of its own either.
    await client.request("BREW", "/api/health")

    scraped = await scrape(client)
    duration = "reefguide_http_request_duration_seconds_count"
    assert scraped.value(duration, method="GET", route="unmatched", status="404") == 3
    assert scraped.labels(duration, "method") <= {"GET", "OTHER"}


async def test_a_latency_is_observed_for_each_request(client: httpx.AsyncClient) -> None:
    await client.get("/api/health")
    scraped = await scrape(client)
    labels = {"method": "GET", "route": "/api/health", "status": "200"}
    assert scraped.value("reefguide_http_request_duration_seconds_bucket", le="+Inf", **labels) == 1
    assert (scraped.value("reefguide_http_request_duration_seconds_sum", **labels) or 0) > 0


async def test_a_cache_hit_is_counted(client: httpx.AsyncClient, analyst: Caller) -> None:
    await submit(client, analyst, id=7)
    await submit(client, analyst, id=7)
    await submit(client, analyst, id=8)

    scraped = await scrape(client)
    assert scraped.value("reefguide_job_requests_total", type="TEST") == 3
    assert scraped.value("reefguide_job_cache_hits_total", type="TEST") == 1
    assert scraped.value("reefguide_job_cache_hits_total", type="ADRIA_MODEL_RUN") == 0


async def test_an_expired_lease_is_counted_by_the_sweep(
    app: FastAPI, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    await submit(client, analyst)
    await claim_one(client, worker)
    assert (await scrape(client)).value("reefguide_job_leases_expired_total", type="TEST") == 0

    await sweep_leases(app, clock.advance(app.state.queue.lease_seconds + 1))
    await sweep_leases(app, clock.advance(1))  # nothing left to expire: counted once

    assert (await scrape(client)).value("reefguide_job_leases_expired_total", type="TEST") == 1


async def test_claims_are_timed_by_whether_they_got_a_job(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller
) -> None:
    assert await claim(client, worker, wait_seconds=0.3) == []
    await submit(client, analyst)
    await claim_one(client, worker)

    scraped = await scrape(client)
    wait = "reefguide_job_claim_wait_seconds"
    assert scraped.value(f"{wait}_count", outcome="empty") == 1
    assert (scraped.value(f"{wait}_sum", outcome="empty") or 0) >= 0.3
    assert scraped.value(f"{wait}_count", outcome="claimed") == 1
    assert (scraped.value(f"{wait}_sum", outcome="claimed") or 0) < 0.3


class TestRunTime:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {**QUIET_SWEEPS, "job_lease_seconds": 600}

    async def test_a_jobs_run_time_runs_from_its_claim_to_its_report(
        self, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
    ) -> None:
        await submit(client, analyst, id=1)
        await submit(client, analyst, id=2)
        first, second = await claim(client, worker, max_jobs=2)
        clock.advance(42)
        assert (await report(client, worker, first)).status_code == 200
        clock.advance(18)
        assert (await report(client, worker, second, "FAILED", error="broken")).status_code == 200

        scraped = await scrape(client)
        run = "reefguide_job_run_seconds"
        assert scraped.value(f"{run}_count", type="TEST", outcome="SUCCEEDED") == 1
        assert scraped.value(f"{run}_sum", type="TEST", outcome="SUCCEEDED") == 42
        assert scraped.value(f"{run}_bucket", type="TEST", outcome="SUCCEEDED", le="30.0") == 0
        assert scraped.value(f"{run}_bucket", type="TEST", outcome="SUCCEEDED", le="60.0") == 1
        assert scraped.value(f"{run}_sum", type="TEST", outcome="FAILED") == 60

    async def test_results_reported_together_are_timed_each(
        self, client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
    ) -> None:
        await submit(client, analyst, id=1)
        await submit(client, analyst, id=2)
        leases = await claim(client, worker, max_jobs=2)
        clock.advance(10)
        response = await client.post(
            "/api/jobs/assignments/results",
            json={
                "results": [
                    {"assignmentId": lease.assignment_id, "leaseToken": lease.token, "status": "SUCCEEDED"}
                    for lease in leases
                ]
            },
            headers=worker.headers,
        )
        assert response.status_code == 200, response.text

        scraped = await scrape(client)
        assert scraped.value("reefguide_job_run_seconds_count", type="TEST", outcome="SUCCEEDED") == 2
        assert scraped.value("reefguide_job_run_seconds_sum", type="TEST", outcome="SUCCEEDED") == 20


async def test_jobs_backlog_and_oldest_pending_age_are_read_at_each_scrape(
    client: httpx.AsyncClient, analyst: Caller, worker: Caller, clock: Clock
) -> None:
    before = await scrape(client)
    assert before.value("reefguide_jobs", type="TEST", status="PENDING") == 0
    assert before.value("reefguide_job_backlog", type="TEST") == 0
    assert before.value("reefguide_job_oldest_pending_age_seconds", type="TEST") == 0

    await submit(client, analyst, id=1)
    clock.advance(30)
    await submit(client, analyst, id=2)
    await submit(client, analyst, "REGIONAL_ASSESSMENT", region="Cairns", reef_type="slopes")
    await claim_one(client, worker)  # the oldest TEST job
    clock.advance(60)

    scraped = await scrape(client)
    assert scraped.value("reefguide_jobs", type="TEST", status="PENDING") == 1
    assert scraped.value("reefguide_jobs", type="TEST", status="IN_PROGRESS") == 1
    assert scraped.value("reefguide_jobs", type="TEST", status="SUCCEEDED") == 0
    assert scraped.value("reefguide_jobs", type="REGIONAL_ASSESSMENT", status="PENDING") == 1
    assert scraped.value("reefguide_job_backlog", type="TEST") == 1
    assert scraped.value("reefguide_job_backlog", type="REGIONAL_ASSESSMENT") == 1
    assert scraped.value("reefguide_job_oldest_pending_age_seconds", type="TEST") == 60
    assert scraped.value("reefguide_job_oldest_pending_age_seconds", type="REGIONAL_ASSESSMENT") == 60


async def test_with_the_database_down_the_process_metrics_are_still_served(
    tmp_path: Path, key_pair: KeyPair
) -> None:
    with refused_port() as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/reefguide"
        async with client_for_database(url, tmp_path / "data", key_pair) as client:
            scraped = await scrape(client)
    assert "reefguide_http_request_duration_seconds" in scraped.families
    assert not any(name in scraped.families for name in JOB_FAMILIES)
