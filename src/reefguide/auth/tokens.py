"""Access tokens: RS256 JWTs with a key id, and the JWKS document that publishes the key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from reefguide.auth.keys import KeyPair, public_jwk
from reefguide.errors import Unauthorized

ALGORITHM = "RS256"
# Verified tokens remembered (a token and its claims, a kB or two each): more than the
# clients one process serves at a time.
VERIFIED_TOKENS_KEPT = 4096


class AccessTokens:
    def __init__(self, keys: KeyPair, *, issuer: str, lifetime: timedelta) -> None:
        self._keys = keys
        self._issuer = issuer
        self._lifetime = lifetime
        # Token -> (expiry, claims) of tokens that passed `_verify`, oldest first.
        self._verified: dict[str, tuple[int, dict[str, Any]]] = {}

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
        """The token's claims, or Unauthorized. Pins RS256; checks signature, expiry, issuer.

        A client sends the same token with every request until it expires, and
        decoding it and checking its RSA signature is a large share of the work of a
        small request. Whether a given string is signed with our key, by our issuer,
        with the required claims, never changes; so a token that passed is remembered,
        keyed by the whole string, and on its next use only the expiry (the one check
        that depends on the time) is made again. Tokens that failed are not stored.
        The user and roles are still read from the database on every request.
        """
        remembered = self._verified.get(token)
        if remembered is not None:
            expiry, claims = remembered
            # PyJWT's rule: expired when exp <= now.
            if expiry <= time.time():
                del self._verified[token]
                raise Unauthorized("Token expired")
            return dict(claims)
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # Dicts keep insertion order: forget the token remembered longest ago.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (int(claims["exp"]), claims)
        return dict(claims)

    def _verify(self, token: str) -> dict[str, Any]:
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
