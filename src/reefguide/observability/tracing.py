"""Tracing for the API, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

FastAPI's own OpenTelemetry support makes the span of each request (named by its
route template, continuing an incoming `traceparent`) once the app has a tracer
provider; off, it costs one check a request. This module builds that provider and
carries a job's trace along: the request that created the job leaves its context
with it, the claim records a span in that trace and hands the worker its context,
and the worker's run, heartbeats and report continue it (worker/job.py).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, TracerProvider

from reefguide.worker.tracing import add_trace_ids, build_tracer_provider, current_trace_context

__all__ = [
    "SERVICE_NAME",
    "add_trace_ids",
    "build_tracer_provider",
    "claim_trace_context",
    "request_trace_context",
    "telemetry_config",
]

SERVICE_NAME = "reefguide-api"  # unless OTEL_SERVICE_NAME says otherwise
TRACER_NAME = "reefguide.api"
# Scrapes, probes and Socket.IO's own transport: a trace every few seconds that
# nobody will look at.
UNTRACED_PATHS = frozenset({"/metrics", "/api/", "/api/health", "/api/health/ready"})
UNTRACED_PREFIX = "/socket.io"


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    path = scope.get("path", "")
    return path in UNTRACED_PATHS or path.startswith(UNTRACED_PREFIX)


def telemetry_config(provider: TracerProvider | None) -> TelemetryConfig:
    """FastAPI's telemetry: a span per request through `provider`, or nothing at all
    (whatever global provider some library may have set). Not its finer spans
    (dependencies, endpoint, serialization): they doubled what tracing costs a request.
    Never its metrics or log export: metrics are Prometheus's (/metrics), logs are
    structlog's."""
    if provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {
        "tracing": True,
        "tracer_provider": provider,
        "exclude": _untraced,
        "operation_spans": False,
        "metrics": False,
        "logs": False,
        "auto_configure": False,
    }


def request_trace_context(headers: Mapping[str, str]) -> dict[str, str] | None:
    """What a new job keeps of the request that creates it: the current span's context
    when this server traces; else the caller's own `traceparent` (checked, so only a
    valid one is kept), so that a worker continues the caller's trace even so."""
    carrier = current_trace_context()
    if not carrier and "traceparent" in headers:
        propagate.inject(carrier, context=propagate.extract(headers))
    return carrier or None


def claim_trace_context(
    tracer: trace.Tracer | None, job_trace_context: dict[str, str] | None, attributes: dict[str, Any]
) -> dict[str, str] | None:
    """The trace context a worker continues for a job it claimed. Tracing, a span in
    the job's trace marks the claim (linked to the claim request's own span, which
    belongs to the worker's polling) and the worker continues from it; otherwise the
    job's own context is handed on as it was kept."""
    if tracer is None:
        return job_trace_context
    request_span = trace.get_current_span().get_span_context()
    span = tracer.start_span(
        f"claim {attributes.get('reefguide.job.type', 'job')}",
        context=propagate.extract(job_trace_context or {}),
        attributes=attributes,
        links=[Link(request_span)] if request_span.is_valid else None,
    )
    span.end()
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier
