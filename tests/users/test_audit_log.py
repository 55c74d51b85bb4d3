"""GET /api/users/utils/log: the audit log, newest first, paged."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from reefguide.db.base import utcnow
from reefguide.users.models import User, UserLog
from tests.users.helpers import Caller

LOG = "/api/users/utils/log"


async def add_logs(app: FastAPI, user: User, actions: list[str]) -> None:
    """One row per action, a minute apart, the last one newest."""
    start = utcnow() - timedelta(hours=1)
    async with app.state.sessionmaker() as session:
        session.add_all(
            UserLog(
                action=action,
                user_id=user.id,
                user_email=user.email,
                time=start + timedelta(minutes=n),
                metadata_={"n": n},
            )
            for n, action in enumerate(actions)
        )
        await session.commit()


async def test_log_entries_carry_the_user_and_their_email(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN"])
    response = await client.get(LOG, headers=admin.headers)
    assert response.status_code == 200
    [entry] = response.json()["logs"]
    assert entry == {
        "id": entry["id"],
        "time": entry["time"],
        "action": "LOGIN",
        "metadata": {"n": 0},
        "userId": analyst.user.id,
        "userEmail": analyst.user.email,
        "user": {"id": analyst.user.id, "email": analyst.user.email, "roles": ["ANALYST"]},
    }


async def test_log_is_newest_first(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN", "CHANGE_PASSWORD", "LOGOUT"])
    logs = (await client.get(LOG, headers=admin.headers)).json()["logs"]
    assert [log["action"] for log in logs] == ["LOGOUT", "CHANGE_PASSWORD", "LOGIN"]


async def test_log_can_be_filtered_by_user(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN"])
    await add_logs(app, admin.user, ["LOGOUT"])
    response = await client.get(LOG, params={"userId": analyst.user.id}, headers=admin.headers)
    assert [log["userId"] for log in response.json()["logs"]] == [analyst.user.id]
    assert response.json()["pagination"]["total"] == 1


async def test_log_pages_through_entries_with_page_and_limit(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, [f"A{n}" for n in range(5)])
    response = await client.get(LOG, params={"page": 2, "limit": 2}, headers=admin.headers)
    body = response.json()
    assert [log["action"] for log in body["logs"]] == ["A2", "A1"]
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 5, "pages": 3}


async def test_log_page_past_the_end_is_empty(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN"])
    body = (await client.get(LOG, params={"page": 5}, headers=admin.headers)).json()
    assert body["logs"] == []
    assert body["pagination"] == {"page": 5, "limit": 50, "total": 1, "pages": 1}


async def test_log_defaults_to_page_1_of_50(client: httpx.AsyncClient, admin: Caller) -> None:
    body = (await client.get(LOG, headers=admin.headers)).json()
    assert body == {"logs": [], "pagination": {"page": 1, "limit": 50, "total": 0, "pages": 0}}


async def test_log_limit_above_100_is_clamped_to_100(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN"] * 105)
    body = (await client.get(LOG, params={"limit": 1000}, headers=admin.headers)).json()
    assert len(body["logs"]) == 100
    assert body["pagination"] == {"page": 1, "limit": 100, "total": 105, "pages": 2}


async def test_log_page_below_1_reads_as_page_1(
    client: httpx.AsyncClient, app: FastAPI, admin: Caller, analyst: Caller
) -> None:
    await add_logs(app, analyst.user, ["LOGIN"])
    body = (await client.get(LOG, params={"page": 0}, headers=admin.headers)).json()
    assert body["pagination"]["page"] == 1
    assert len(body["logs"]) == 1


async def test_log_with_a_non_numeric_user_id_is_400(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.get(LOG, params={"userId": "me"}, headers=admin.headers)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["userId"]
