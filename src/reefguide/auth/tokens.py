"""Access tokens: RS256 JWTs with a key id, and the JWKS document that publishes the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from reefguide.auth.keys import KeyPair, public_jwk
from reefguide.errors import Unauthorized

ALGORITHM = "RS256"


class AccessTokens:
    def __init__(self, keys: KeyPair, *, issuer: str, lifetime: timedelta) -> None:
        self._keys = keys
        self._issuer = issuer
        self._lifetime = lifetime

    def issue(self, *, user_id: int, email: str, roles: list[str]) -> str:
        now = datetime.now(UTC)
        claims = {
            "id": user_id,
            "email": email,
            "roles": roles,
            "iss": self._issuer,
            "iat": now,
            "exp": now + self._lifetime,
        }
        return jwt.encode(
            claims, self._keys.private_key, algorithm=ALGORITHM, headers={"kid": self._keys.key_id}
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized. Pins RS256; checks signature, expiry, issuer."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") not in (None, self._keys.key_id):
                raise Unauthorized("Invalid token")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys.public_key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iss", "id"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        if not isinstance(claims.get("id"), int):
            raise Unauthorized("Invalid token")
        return claims

    def jwks(self) -> dict[str, Any]:
        jwk = public_jwk(self._keys.public_key)
        return {"keys": [{**jwk, "use": "sig", "alg": ALGORITHM, "kid": self._keys.key_id}]}
