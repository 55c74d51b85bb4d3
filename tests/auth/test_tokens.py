"""Access tokens: what verification accepts and what it refuses; the JWKS document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from reefguide.auth.keys import KeyPair, generate_key_pair
from reefguide.users.models import User
from tests.factories import bearer, make_user, token_for


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user: User, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "roles": list(user.roles),
        "iss": "http://test",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    claims.update(changes)
    return claims


def sign(claims: dict[str, Any], keys: KeyPair) -> str:
    return jwt.encode(claims, keys.private_key, algorithm="RS256", headers={"kid": keys.key_id})


async def profile_status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/auth/profile", headers=bearer(token))).status_code


async def test_a_valid_token_is_accepted(client: httpx.AsyncClient, app: FastAPI, key_pair: KeyPair) -> None:
    user = await make_user(app)
    assert await profile_status(client, sign(claims_for(user), key_pair)) == 200


async def test_issued_token_has_kid_issuer_and_claims(app: FastAPI, key_pair: KeyPair) -> None:
    user = await make_user(app)
    token = token_for(app, user)
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": key_pair.key_id, "typ": "JWT"}
    claims = jwt.decode(token, key_pair.public_key, algorithms=["RS256"], issuer="http://test")
    assert claims["id"] == user.id
    assert claims["email"] == user.email
    assert claims["roles"] == ["ANALYST"]
    assert claims["exp"] - claims["iat"] == 60 * 60  # ACCESS_TOKEN_EXPIRY_MINUTES defaults to 60


async def test_expired_token_is_refused(client: httpx.AsyncClient, app: FastAPI, key_pair: KeyPair) -> None:
    user = await make_user(app)
    past = datetime.now(UTC) - timedelta(minutes=10)
    token = sign(claims_for(user, iat=past, exp=past + timedelta(minutes=1)), key_pair)
    response = await client.get("/api/auth/profile", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"message": "Token expired"}


async def test_token_signed_with_another_key_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    stranger = generate_key_pair()
    forged = jwt.encode(claims_for(user), stranger.private_key, algorithm="RS256")
    assert await profile_status(client, forged) == 401


async def test_token_with_altered_claims_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    header, payload, signature = token_for(app, user).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["ADMIN"]
    altered = _b64(json.dumps(claims).encode())
    assert await profile_status(client, f"{header}.{altered}.{signature}") == 401


async def test_alg_none_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    claims = claims_for(user)
    claims["iat"], claims["exp"] = int(claims["iat"].timestamp()), int(claims["exp"].timestamp())
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    assert await profile_status(client, f"{header}.{body}.") == 401


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, app: FastAPI, key_pair: KeyPair
) -> None:
    # The classic key-confusion attack: HMAC keyed with the (public) PEM.
    user = await make_user(app)
    claims = claims_for(user)
    claims["iat"], claims["exp"] = int(claims["iat"].timestamp()), int(claims["exp"].timestamp())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key_pair.key_id}).encode())
    body = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{body}".encode()
    signature = _b64(hmac.new(key_pair.public_pem().encode(), signing_input, hashlib.sha256).digest())
    assert await profile_status(client, f"{header}.{body}.{signature}") == 401


async def test_wrong_issuer_is_refused(client: httpx.AsyncClient, app: FastAPI, key_pair: KeyPair) -> None:
    user = await make_user(app)
    assert await profile_status(client, sign(claims_for(user, iss="http://elsewhere"), key_pair)) == 401


async def test_token_of_a_deleted_user_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    token = token_for(app, user)
    async with app.state.sessionmaker() as session:
        await session.delete(await session.get(User, user.id))
        await session.commit()
    assert await profile_status(client, token) == 401


async def test_roles_come_from_the_database_not_the_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = await make_user(app)
    token = token_for(app, user)  # says ANALYST
    async with app.state.sessionmaker() as session:
        await session.execute(update(User).where(User.id == user.id).values(roles=["DEFAULT"]))
        await session.commit()
    profile = await client.get("/api/auth/profile", headers=bearer(token))
    assert profile.json()["user"]["roles"] == ["DEFAULT"]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Token abc"])
async def test_malformed_authorization_header_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/auth/profile", headers={"Authorization": header})
    assert response.status_code == 401


async def test_jwks_publishes_the_real_public_key(client: httpx.AsyncClient, key_pair: KeyPair) -> None:
    document = (await client.get("/api/.well-known/jwks.json")).json()
    (key,) = document["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kid"] == key_pair.key_id
    numbers = key_pair.public_key.public_numbers()
    assert int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=="), "big") == numbers.n
    assert int.from_bytes(base64.urlsafe_b64decode(key["e"] + "=="), "big") == numbers.e


async def test_pyjwt_verifies_our_tokens_with_the_served_jwks(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await make_user(app)
    token = token_for(app, user)
    document = (await client.get("/api/.well-known/jwks.json")).json()
    key_set = jwt.PyJWKSet.from_dict(document)
    signing_key = key_set[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer="http://test")
    assert claims["id"] == user.id
