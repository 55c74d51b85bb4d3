"""What the auth services need, built once by create_app and shared by every request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives import serialization

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
    # Keys the HMAC of password reset codes; derived from the signing key, so it
    # needs no setting of its own and changes when the key is rotated.
    reset_code_key: bytes = field(repr=False)

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
            reset_code_key=reset_code_key(keys),
        )


def reset_code_key(keys: KeyPair) -> bytes:
    der = keys.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return hashlib.sha256(b"reefguide password reset codes\0" + der).digest()
