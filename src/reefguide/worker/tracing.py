"""OpenTelemetry set-up shared by the worker, the manager and the API: traces leave a
process only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over http/protobuf);
otherwise no tracer provider exists and spans cost next to nothing.

The SDK reads the other OTEL_* variables itself (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT …).
Only OpenTelemetry and the standard library here: the worker imports this module.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

UNKNOWN_SERVICE = "unknown_service"


def traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL; traces go to its /v1/traces."""
    return f"{endpoint.rstrip('/')}/v1/traces"


def build_tracer_provider(endpoint: str | None, *, service_name: str) -> TracerProvider | None:
    """A provider that batches spans to `endpoint` over OTLP, or None when tracing is off
    (no endpoint, or OTEL_SDK_DISABLED=true). `service_name` unless OTEL_SERVICE_NAME
    (or OTEL_RESOURCE_ATTRIBUTES) names the service."""
    if not endpoint or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    # Imported here: a process that does not trace never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith(UNKNOWN_SERVICE):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    # A traces-specific endpoint in the environment is the exporter's to read.
    explicit = None if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") else traces_url(endpoint)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=explicit)))
    return provider


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current span's trace and span ids, when there is one.
    Installed only when tracing is on."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def current_trace_context() -> dict[str, str]:
    """The current span's context as W3C headers (`traceparent`, `tracestate`); empty
    when no span is current."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
