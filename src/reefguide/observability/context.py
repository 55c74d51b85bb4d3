"""Per-request facts the access log line needs (request id, user id).

The middleware puts a fresh dict in the context variable; code deeper in the
request writes into that dict (never re-sets the variable), so the middleware
sees what was written even where the framework ran it in a copied context.
"""

from __future__ import annotations

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
