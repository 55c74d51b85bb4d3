"""Prometheus metrics, served by GET /metrics (routes.py).

One registry per app (tests build many apps in one process). Each API process
exposes its own numbers: Prometheus scrapes every process and sums them, so no
multiprocess mode is needed. A request pays for one histogram observation; the
job gauges are read from the database at scrape time, in one GROUP BY.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from fastapi.routing import iter_route_contexts
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reefguide.jobs.types import JobStatus, job_types

# Open Socket.IO connections in this process, for realtime/ to move (inc() on connect,
# dec() on disconnect). Module-level so that it can be imported; every app's registry
# exposes it, so apps sharing a process show the same number.
SOCKETIO_CONNECTIONS = Gauge(
    "reefguide_socketio_connections", "Socket.IO connections open in this process", registry=None
)

UNMATCHED = "unmatched"  # the route label of a request no route matched (404, redirects)
OTHER_METHOD = "OTHER"  # any method not listed: a client's method never becomes a label
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CLAIM_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0)


class HttpMetrics:
    """Requests by method, route template (`/api/jobs/{job_id}`, never the raw path)
    and status, with their latency. The count of each series is its histogram's
    `_count`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._duration = Histogram(
            "reefguide_http_request_duration_seconds",
            "HTTP requests by method, route template and status, and how long they took",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        # id(route) -> its template; the matched route object is in the scope, its
        # template (with the prefixes of the routers it was included by) is not.
        self._templates: dict[int, str] = {}
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = UNMATCHED if route is None else self._templates.get(id(route)) or self._learn(scope, route)
        method = scope["method"]
        if method not in HTTP_METHODS:
            method = OTHER_METHOD
        key = (method, template, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._duration.labels(method, template, str(status))
        child.observe(seconds)

    def _learn(self, scope: MutableMapping[str, Any], route: object) -> str:
        """Read every route's template from the app (once, and again for routes added
        since). A route included twice keeps its first template."""
        app = scope.get("app")
        if app is not None:
            for context in iter_route_contexts(app.routes):
                self._templates.setdefault(id(context.original_route), context.path_format or UNMATCHED)
        return self._templates.setdefault(id(route), getattr(route, "path_format", None) or UNMATCHED)


class JobMetrics:
    """What the queue counts as it works: submissions and cache hits, leases that
    expired, how long claims waited, and how long jobs ran. Moved after the change
    commits (see the callers), so a rolled-back transaction counts nothing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "reefguide_job_requests",
            "Job submissions by type, answered by a new job or from the cache",
            ["type"],
            registry=registry,
        )
        self.cache_hits = Counter(
            "reefguide_job_cache_hits",
            "Job submissions answered by an earlier job with the same input (the cache), by type",
            ["type"],
            registry=registry,
        )
        self.leases_expired = Counter(
            "reefguide_job_leases_expired",
            "Leases that ended without a report (no heartbeat in time, or past the type's "
            "maximum run time), by job type",
            ["type"],
            registry=registry,
        )
        self.claim_wait = Histogram(
            "reefguide_job_claim_wait_seconds",
            "How long a claim request waited (long poll) before its answer, by whether it got jobs",
            ["outcome"],
            buckets=CLAIM_WAIT_BUCKETS,
            registry=registry,
        )
        self.run_time = Histogram(
            "reefguide_job_run_seconds",
            "From a job's claim to the outcome its worker reported, by type and outcome",
            ["type", "outcome"],
            buckets=RUN_BUCKETS,
            registry=registry,
        )
        # Every known type from the start: a series that is 0 rather than absent.
        for name in job_types():
            for counter in (self.requests, self.cache_hits, self.leases_expired):
                counter.labels(name)
        self._claimed = self.claim_wait.labels("claimed")
        self._empty = self.claim_wait.labels("empty")

    def submitted(self, job_type: str, *, cached: bool) -> None:
        self.requests.labels(job_type).inc()
        if cached:
            self.cache_hits.labels(job_type).inc()

    def leases_ended(self, job_types: Iterable[str]) -> None:
        for job_type in job_types:
            self.leases_expired.labels(job_type).inc()

    def claim_answered(self, seconds: float, *, claimed: bool) -> None:
        (self._claimed if claimed else self._empty).observe(seconds)

    def ran(self, runs: Iterable[FinishedRun]) -> None:
        for run in runs:
            self.run_time.labels(run.type, run.outcome).observe(max(run.seconds, 0.0))


@dataclass(frozen=True)
class FinishedRun:
    type: str
    outcome: str
    seconds: float


class JobCount(NamedTuple):
    """One group of the jobs table: its type, status, size and oldest member."""

    type: str
    status: str
    size: int
    oldest_created_at: datetime | None


class JobGauges(Collector):
    """The jobs table as counted for one scrape: jobs by type and status, and per type
    the pending backlog and the age of its oldest job."""

    def __init__(self, counts: Sequence[JobCount], now: datetime) -> None:
        self._counts = counts
        self._now = now

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("reefguide_jobs", "Jobs by type and status", labels=["type", "status"])
        backlog = GaugeMetricFamily(
            "reefguide_job_backlog",
            "PENDING jobs by type: the whole backlog, as GET /api/jobs/stats counts it",
            labels=["type"],
        )
        oldest = GaugeMetricFamily(
            "reefguide_job_oldest_pending_age_seconds",
            "Age of the oldest PENDING job by type (0 when none is pending)",
            labels=["type"],
        )
        by_key = {(count.type, count.status): count for count in self._counts}
        types = sorted({*job_types(), *(count.type for count in self._counts)})
        statuses = [status.value for status in JobStatus]
        for job_type in types:
            for status in statuses:
                count = by_key.get((job_type, status))
                jobs.add_metric([job_type, status], count.size if count else 0)
            pending = by_key.get((job_type, JobStatus.PENDING.value))
            backlog.add_metric([job_type], pending.size if pending else 0)
            age = 0.0
            if pending is not None and pending.oldest_created_at is not None:
                age = max((self._now - pending.oldest_created_at).total_seconds(), 0.0)
            oldest.add_metric([job_type], age)
        yield from (jobs, backlog, oldest)


class Metrics:
    """An app's metrics: its registry (with the process's own: CPU, memory, GC) and
    the groups the middleware and the queue move."""

    def __init__(self) -> None:
        # No `…_created` series beside each counter and histogram: they double a scrape
        # and Prometheus reads resets from the counters themselves. (Process-wide.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, SOCKETIO_CONNECTIONS):
            self.registry.register(collector)
        self.http = HttpMetrics(self.registry)
        self.jobs = JobMetrics(self.registry)

    def render(self, counts: Sequence[JobCount] | None, now: datetime) -> bytes:
        """The text exposition: the registry, then the job gauges when the database
        answered (`counts` None: it did not, and they are left out)."""
        text = generate_latest(self.registry)
        if counts is not None:
            text += generate_latest(JobGauges(counts, now))
        return text
