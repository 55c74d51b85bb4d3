"""Per-request facts the logs need (request id, user id).

The middleware puts a fresh dict in the context variable; code deeper in the
request writes into that dict (never re-sets the variable), so the middleware
sees what was written even where the framework ran it in a copied context.
Every line logged while a request is handled carries its id (`add_request_id`).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

_request_facts: ContextVar[dict[str, Any] | None] = ContextVar("reefguide_request_facts", default=None)


def start_request(request_id: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"request_id": request_id}
    _request_facts.set(facts)
    return facts


def note(**facts: Any) -> None:
    current = _request_facts.get()
    if current is not None:
        current.update(facts)


def add_request_id(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A log processor: the id of the request being handled, if any. One lookup;
    structlog's `merge_contextvars` walks every context variable of the context."""
    facts = _request_facts.get()
    if facts is not None:
        event.setdefault("request_id", facts["request_id"])
    return event
