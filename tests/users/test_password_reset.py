"""Password reset: request a code by mail, confirm it with a new password."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from sqlalchemy import select

from reefguide.db.base import utcnow
from reefguide.mail import LogMailer, MailMessage, SmtpMailer
from reefguide.observability.logging import line_handler
from reefguide.users import password_reset
from reefguide.users.models import PasswordResetCode, UserLog
from tests.factories import PASSWORD, make_user

REQUESTED = {"message": "If an account with that email exists, a reset code has been sent."}
INVALID = {"message": "Invalid or expired reset code"}
NEW_PASSWORD = "brand-new-password"
CODE = re.compile(r"\b(\d{6})\b")


class RecordingMailer:
    def __init__(self) -> None:
        self.messages: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.messages.append(message)

    def codes(self) -> list[str]:
        found = []
        for message in self.messages:
            match = CODE.search(message.body)
            assert match is not None, message.body
            found.append(match.group(1))
        return found


class LogLines:
    """Every log line as the service renders it (the JSON of the configured pipeline)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, line: str) -> None:
        self.events.append(json.loads(line))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.events if line.get("event") == event]


@pytest.fixture
def mailer(app: FastAPI) -> RecordingMailer:
    recording = RecordingMailer()
    app.state.mailer = recording
    return recording


@pytest.fixture
def log_lines(app: FastAPI) -> Iterator[LogLines]:
    handler = line_handler()  # the pipeline create_app configured
    assert handler is not None
    lines = LogLines()
    handler.listeners.append(lines)
    yield lines
    handler.listeners.remove(lines)


def other_code(code: str) -> str:
    """A well-formed code that is certainly not `code`."""
    return str((int(code) - 100_000 + 1) % 900_000 + 100_000)


async def request_code(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/password-reset/request", json={"email": email})


async def confirm(
    client: httpx.AsyncClient,
    code: str,
    *,
    email: str | None = None,
    password: str = NEW_PASSWORD,
    confirmation: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "code": code,
        "newPassword": password,
        "confirmPassword": password if confirmation is None else confirmation,
    }
    if email is not None:
        body["email"] = email
    return await client.post("/api/password-reset/confirm", json=body)


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def codes_of(app: FastAPI, user_id: int) -> list[PasswordResetCode]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(PasswordResetCode)
            .where(PasswordResetCode.user_id == user_id)
            .order_by(PasswordResetCode.id)
        )
        return list(rows)


# --- request --------------------------------------------------------------------------------------


async def test_request_answers_the_same_for_existing_and_unknown_emails(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    known = await request_code(client, user.email)
    unknown = await request_code(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json() == REQUESTED
    assert [message.to for message in mailer.messages] == [user.email]


async def test_request_for_an_unknown_email_stores_no_code(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    await request_code(client, "nobody@example.com")
    async with app.state.sessionmaker() as session:
        assert list(await session.scalars(select(PasswordResetCode))) == []
    assert mailer.messages == []


async def test_request_normalises_the_email(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app, email="mixed@example.com")
    await request_code(client, "  MIXED@Example.com ")
    assert [message.to for message in mailer.messages] == [user.email]


async def test_a_second_request_within_minutes_is_answered_alike(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    # The original answered 400 here, which told that the account exists.
    user = await make_user(app)
    first = await request_code(client, user.email)
    second = await request_code(client, user.email)
    assert first.status_code == second.status_code == 200
    assert second.json() == REQUESTED
    assert len(mailer.codes()) == 2


async def test_the_code_is_six_digits_stored_as_a_keyed_hash(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    before = utcnow()
    await request_code(client, user.email)
    [code] = mailer.codes()
    assert 100_000 <= int(code) <= 999_999
    [row] = await codes_of(app, user.id)
    assert row.code_hash == password_reset.hash_code(app.state.auth, code)
    assert row.code_hash not in {code, hashlib.sha256(code.encode()).hexdigest()}
    assert not row.used
    assert row.attempts == 0
    lifetime = row.expires_at - before
    assert timedelta(minutes=29, seconds=50) < lifetime <= timedelta(minutes=30, seconds=10)


async def test_the_mail_goes_out_after_the_code_is_committed(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    committed_when_sent: list[int] = []

    class CheckingMailer:
        async def send(self, message: MailMessage) -> None:
            committed_when_sent.append(len(await codes_of(app, user.id)))

    app.state.mailer = CheckingMailer()
    await request_code(client, user.email)
    assert committed_when_sent == [1]


async def test_a_failing_mailer_is_logged_not_a_500(
    client: httpx.AsyncClient, app: FastAPI, log_lines: LogLines
) -> None:
    user = await make_user(app)

    class BrokenMailer:
        async def send(self, message: MailMessage) -> None:
            raise ConnectionRefusedError("no mail server")

    app.state.mailer = BrokenMailer()
    response = await request_code(client, user.email)
    assert response.status_code == 200
    assert response.json() == REQUESTED
    [failure] = log_lines.named("mail.failed")
    assert failure["to"] == user.email
    assert "no mail server" in failure["exception"]


async def test_without_smtp_the_code_is_written_to_the_log(
    client: httpx.AsyncClient, app: FastAPI, log_lines: LogLines
) -> None:
    assert isinstance(app.state.mailer, LogMailer)  # no SMTP_HOST in the test settings
    user = await make_user(app)
    await request_code(client, user.email)
    [line] = log_lines.named("mail.logged")
    assert line["to"] == user.email
    match = CODE.search(line["body"])
    assert match is not None, line
    # The logged code is the real one.
    assert (await confirm(client, match.group(1), email=user.email)).status_code == 200


# --- confirm --------------------------------------------------------------------------------------


async def test_reset_sets_the_password_and_revokes_refresh_tokens(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    refresh_token = (await login(client, user.email, PASSWORD)).json()["refreshToken"]
    await request_code(client, user.email)
    [code] = mailer.codes()

    response = await confirm(client, code, email=user.email)

    assert response.status_code == 200
    assert set(response.json()) == {"message"}
    assert (await login(client, user.email, PASSWORD)).status_code == 401
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
    refreshed = await client.post("/api/auth/token", json={"refreshToken": refresh_token})
    assert refreshed.status_code == 401


async def test_reset_without_email_finds_the_code_alone(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    assert (await confirm(client, code)).status_code == 200
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200


async def test_reset_is_recorded_in_the_audit_log(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    await confirm(client, mailer.codes()[0], email=user.email)
    async with app.state.sessionmaker() as session:
        actions = list(await session.scalars(select(UserLog.action).where(UserLog.user_id == user.id)))
    assert actions == ["RESET_PASSWORD"]


async def test_a_spent_code_cannot_be_used_again(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    assert (await confirm(client, code, email=user.email)).status_code == 200
    again = await confirm(client, code, email=user.email, password="third-password")
    assert again.status_code == 400
    assert again.json() == INVALID
    without_email = await confirm(client, code, password="third-password")
    assert without_email.json() == INVALID
    assert (await login(client, user.email, NEW_PASSWORD)).status_code == 200
    [row] = await codes_of(app, user.id)
    assert row.used
    assert row.used_at is not None


@pytest.mark.parametrize(("minutes_later", "status"), [(29, 200), (31, 400)])
async def test_a_code_lives_thirty_minutes(
    client: httpx.AsyncClient,
    app: FastAPI,
    mailer: RecordingMailer,
    monkeypatch: pytest.MonkeyPatch,
    minutes_later: int,
    status: int,
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    later = utcnow() + timedelta(minutes=minutes_later)
    monkeypatch.setattr(password_reset, "utcnow", lambda: later)
    assert (await confirm(client, code, email=user.email)).status_code == status
    assert (await confirm(client, code)).status_code == 400  # spent or expired either way


async def test_a_new_request_retires_the_older_code(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    await request_code(client, user.email)
    first, second = mailer.codes()
    if first == second:  # one chance in 900,000: the new code happens to repeat the old one
        pytest.skip("the two codes drawn are equal")
    assert (await confirm(client, first)).json() == INVALID
    assert (await confirm(client, first, email=user.email)).json() == INVALID
    assert (await confirm(client, second, email=user.email)).status_code == 200
    old, new = await codes_of(app, user.id)
    assert old.used
    assert old.used_at is None  # retired, not spent
    assert new.used_at is not None


async def test_a_reset_retires_the_users_other_codes(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    async with app.state.sessionmaker() as session:
        # A second live code, as a concurrent request could leave behind.
        session.add(
            PasswordResetCode(
                user_id=user.id,
                code_hash=password_reset.hash_code(app.state.auth, other_code(code)),
                expires_at=utcnow() + timedelta(minutes=30),
            )
        )
        await session.commit()
    assert (await confirm(client, code)).status_code == 200
    assert all(row.used for row in await codes_of(app, user.id))
    assert (await confirm(client, other_code(code), password="third-password")).json() == INVALID


async def test_five_wrong_tries_kill_the_code(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    for _ in range(5):
        wrong = await confirm(client, other_code(code), email=user.email)
        assert wrong.status_code == 400
        assert wrong.json() == INVALID
    [row] = await codes_of(app, user.id)
    assert row.attempts == 5
    assert (await confirm(client, code, email=user.email)).json() == INVALID
    assert (await confirm(client, code)).json() == INVALID
    assert (await login(client, user.email, PASSWORD)).status_code == 200


async def test_four_wrong_tries_leave_the_code_alive(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    for _ in range(4):
        assert (await confirm(client, other_code(code), email=user.email)).status_code == 400
    assert (await confirm(client, code, email=user.email)).status_code == 200


async def test_concurrent_wrong_tries_are_counted_at_most_five_times(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    guesses = await asyncio.gather(*(confirm(client, other_code(code), email=user.email) for _ in range(12)))
    assert [response.status_code for response in guesses] == [400] * 12
    [row] = await codes_of(app, user.id)
    assert row.attempts == 5
    assert (await confirm(client, code, email=user.email)).json() == INVALID


@pytest.mark.parametrize("with_email", [True, False])
async def test_concurrent_confirms_of_one_code_reset_once(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer, with_email: bool
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    passwords = [f"racing-password-{n}" for n in range(4)]
    email = user.email if with_email else None
    responses = await asyncio.gather(*(confirm(client, code, email=email, password=p) for p in passwords))
    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200, 400, 400, 400]
    winner = passwords[statuses.index(200)]
    for password in passwords:
        expected = 200 if password == winner else 401
        assert (await login(client, user.email, password)).status_code == expected


async def test_a_new_request_gives_fresh_tries(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [dead] = mailer.codes()
    for _ in range(5):
        await confirm(client, other_code(dead), email=user.email)
    await request_code(client, user.email)
    fresh = mailer.codes()[1]
    assert (await confirm(client, fresh, email=user.email)).status_code == 200


async def test_a_code_confirmed_under_another_users_email_is_invalid(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    owner, other = await make_user(app), await make_user(app)
    await request_code(client, owner.email)
    await request_code(client, other.email)
    owner_code, _ = mailer.codes()
    response = await confirm(client, owner_code, email=other.email)
    assert response.status_code == 400
    assert response.json() == INVALID
    assert (await login(client, other.email, PASSWORD)).status_code == 200
    assert (await login(client, owner.email, PASSWORD)).status_code == 200


async def test_a_code_with_an_unknown_email_is_invalid(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    response = await confirm(client, code, email="nobody@example.com")
    assert response.status_code == 400
    assert response.json() == INVALID


async def test_a_code_never_issued_is_invalid(client: httpx.AsyncClient) -> None:
    response = await confirm(client, "123456")
    assert response.status_code == 400
    assert response.json() == INVALID


async def test_mismatched_confirmation_is_400_and_costs_no_try(
    client: httpx.AsyncClient, app: FastAPI, mailer: RecordingMailer
) -> None:
    user = await make_user(app)
    await request_code(client, user.email)
    [code] = mailer.codes()
    response = await confirm(client, code, email=user.email, confirmation="something-else")
    assert response.status_code == 400
    assert response.json() == {"message": "New password and confirmation do not match"}
    [row] = await codes_of(app, user.id)
    assert row.attempts == 0
    assert not row.used
    assert (await login(client, user.email, PASSWORD)).status_code == 200


async def test_a_short_new_password_is_400_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await confirm(client, "123456", password="short")
    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {"newPassword", "confirmPassword"}


# --- rate limits ----------------------------------------------------------------------------------

LIMITED = {"test_mode": False}


@pytest.mark.parametrize("settings_overrides", [LIMITED])
async def test_requests_are_limited_per_client(client: httpx.AsyncClient) -> None:
    statuses = [(await request_code(client, f"n{n}@example.com")).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]


@pytest.mark.parametrize("settings_overrides", [LIMITED])
async def test_confirms_are_limited_per_client(client: httpx.AsyncClient) -> None:
    statuses = [(await confirm(client, "123456")).status_code for _ in range(11)]
    assert statuses == [400] * 10 + [429]


# --- SMTP -----------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


class TestSmtpDelivery:
    @pytest.fixture
    def settings_overrides(self, smtp_server: tuple[Inbox, int]) -> dict[str, Any]:
        return {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server[1],
            "smtp_starttls": False,
            "smtp_from": "ReefGuide <reefguide@example.org>",
        }

    async def test_the_code_is_delivered_over_smtp(
        self, client: httpx.AsyncClient, app: FastAPI, smtp_server: tuple[Inbox, int]
    ) -> None:
        inbox, _ = smtp_server
        assert isinstance(app.state.mailer, SmtpMailer)
        user = await make_user(app)

        assert (await request_code(client, user.email)).json() == REQUESTED

        [envelope] = inbox.envelopes
        assert envelope.mail_from == "reefguide@example.org"
        assert envelope.rcpt_tos == [user.email]
        assert isinstance(envelope.content, bytes)
        text = envelope.content.decode()
        assert f"To: {user.email}" in text
        assert "Subject: Your ReefGuide password reset code" in text
        match = CODE.search(text)
        assert match is not None, text
        assert (await confirm(client, match.group(1), email=user.email)).status_code == 200
