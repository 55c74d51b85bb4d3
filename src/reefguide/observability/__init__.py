"""Observability: structured logs with request ids, the access log."""
