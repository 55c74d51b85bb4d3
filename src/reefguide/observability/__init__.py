"""Observability: structured logs with request ids, Prometheus metrics, OpenTelemetry traces."""
