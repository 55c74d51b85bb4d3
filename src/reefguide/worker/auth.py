"""How the worker proves who it is: an API key, or a login kept fresh.

A login's access token is refreshed shortly before it expires (its `exp` read from
the JWT without verifying: the API verifies, the worker only needs the time), and
the worker logs in again when the refresh is refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from reefguide.worker.errors import ApiError, AuthenticationFailed
from reefguide.worker.schemas import Tokens

log = structlog.get_logger(__name__)

# Refresh when less than this is left of the access token (or half its life, if shorter).
REFRESH_MARGIN_SECONDS = 60.0

# An unauthenticated POST with retries: (path, JSON body) -> the parsed 2xx answer.
PostJson = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ApiKey:
    key: str

    def __repr__(self) -> str:
        return "ApiKey(key='…')"


@dataclass(frozen=True)
class Login:
    email: str
    password: str

    def __repr__(self) -> str:
        return f"Login(email={self.email!r}, password='…')"


Credentials = ApiKey | Login


class Authenticator(Protocol):
    async def headers(self) -> dict[str, str]:
        """Headers that authenticate the next request."""
        ...

    async def renew(self, refused: Mapping[str, str]) -> None:
        """The API answered 401 to a request sent with `refused`: get new credentials,
        or raise AuthenticationFailed when there are none to get."""
        ...


class ApiKeyAuth:
    def __init__(self, key: str) -> None:
        self._headers = {"x-api-key": key}

    async def headers(self) -> dict[str, str]:
        return dict(self._headers)

    async def renew(self, refused: Mapping[str, str]) -> None:
        raise AuthenticationFailed(401, "The API key was refused (WORKER_API_KEY)")


def token_times(token: str) -> tuple[float | None, float | None]:
    """`(iat, exp)` of a JWT, read without verifying; None where absent or unreadable."""
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None, None
    if not isinstance(claims, dict):
        return None, None

    def number(name: str) -> float | None:
        value = claims.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return number("iat"), number("exp")


class LoginAuth:
    """Bearer tokens from POST /auth/login, renewed through POST /auth/token."""

    def __init__(self, login: Login, post: PostJson, clock: Callable[[], float]) -> None:
        self._login_body = {"email": login.email, "password": login.password}
        self._email = login.email
        self._post = post
        self._clock = clock
        # One renewal at a time: refresh tokens rotate, and presenting a spent one
        # would revoke the whole login.
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_token: str | None = None
        self._renew_at: float | None = None

    async def headers(self) -> dict[str, str]:
        async with self._lock:
            if self._token is None:
                await self._log_in()
            elif self._renew_at is not None and self._clock() >= self._renew_at:
                await self._refresh_or_log_in()
            return {"Authorization": f"Bearer {self._token}"}

    async def renew(self, refused: Mapping[str, str]) -> None:
        async with self._lock:
            if refused.get("Authorization") != f"Bearer {self._token}":
                return  # another request renewed it meanwhile
            await self._refresh_or_log_in()

    async def _log_in(self) -> None:
        try:
            answer = await self._post("auth/login", self._login_body)
        except ApiError as exc:
            if exc.status_code in (400, 401, 403):
                raise AuthenticationFailed(
                    exc.status_code, f"Login as {self._email} refused: {exc.message}"
                ) from None
            raise
        self._keep(Tokens.model_validate(answer))
        log.info("logged in", email=self._email)

    async def _refresh_or_log_in(self) -> None:
        if self._refresh_token is not None:
            try:
                answer = await self._post("auth/token", {"refreshToken": self._refresh_token})
            except ApiError as exc:
                log.info("token refresh refused; logging in again", status=exc.status_code)
            else:
                self._keep(Tokens.model_validate(answer))
                log.debug("access token refreshed")
                return
        self._token = self._refresh_token = self._renew_at = None
        await self._log_in()

    def _keep(self, tokens: Tokens) -> None:
        now = self._clock()
        issued, expires = token_times(tokens.token)
        self._token = tokens.token
        self._refresh_token = tokens.refresh_token
        if expires is None:
            self._renew_at = None  # renewed when the API answers 401
            return
        lifetime = expires - (issued if issued is not None else now)
        self._renew_at = expires - min(REFRESH_MARGIN_SECONDS, max(lifetime, 0.0) / 2)


def authenticator(credentials: Credentials, post: PostJson, clock: Callable[[], float]) -> Authenticator:
    if isinstance(credentials, ApiKey):
        return ApiKeyAuth(credentials.key)
    return LoginAuth(credentials, post, clock)
