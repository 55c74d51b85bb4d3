"""What the auth services need, built once by create_app and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from reefguide.auth.keys import KeyPair
from reefguide.auth.passwords import Passwords
from reefguide.auth.tokens import AccessTokens
from reefguide.settings import Settings


@dataclass(frozen=True)
class AuthContext:
    passwords: Passwords
    tokens: AccessTokens
    refresh_lifetime: timedelta
    registration_mode: str

    @classmethod
    def build(cls, settings: Settings, keys: KeyPair) -> AuthContext:
        return cls(
            passwords=Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib),
            tokens=AccessTokens(
                keys,
                issuer=settings.api_domain,
                lifetime=timedelta(minutes=settings.access_token_expiry_minutes),
            ),
            refresh_lifetime=timedelta(minutes=settings.refresh_token_expiry_minutes),
            registration_mode=settings.registration_mode,
        )
