"""HTTP routes of /api/auth and the JWKS document."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from reefguide.auth import api_keys
from reefguide.auth import service as auth_service
from reefguide.auth.dependencies import AuthDep, CurrentUser
from reefguide.auth.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    ApiKeysOut,
    ChangePasswordIn,
    LoginIn,
    ProfileOut,
    RefreshIn,
    RegisterIn,
    RegisterOut,
    TokensOut,
    UserOut,
)
from reefguide.db.session import SessionDep
from reefguide.http.responses import ModelResponse
from reefguide.http.routing import ApiRouter
from reefguide.ratelimit import rate_limited
from reefguide.schemas import Message

router = ApiRouter(prefix="/auth", tags=["auth"])
jwks_router = ApiRouter(tags=["auth"])


# First: routes are tried in order (http/routing.py), and a client reads its profile
# far more often than it signs in.
@router.get("/profile", response_model=ProfileOut)
async def profile(user: CurrentUser) -> ModelResponse:
    return ModelResponse(ProfileOut(user=UserOut.model_validate(user)))


@router.post("/register", dependencies=[Depends(rate_limited("register", "3/15 minutes"))])
async def register(body: RegisterIn, session: SessionDep, auth: AuthDep) -> RegisterOut:
    """Create an account. Open registration gives ANALYST; approval mode gives DEFAULT
    plus the roles of the email's pre-approval."""
    user = await auth_service.register(session, auth, email=body.email, password=body.password)
    return RegisterOut(user_id=user.id)


@router.post("/login", dependencies=[Depends(rate_limited("login", "5/15 minutes"))])
async def login(body: LoginIn, session: SessionDep, auth: AuthDep) -> TokensOut:
    """Exchange an email and password for an access token and a refresh token."""
    pair = await auth_service.login(session, auth, email=body.email, password=body.password)
    return TokensOut(token=pair.token, refresh_token=pair.refresh_token)


@router.post("/token")
async def token(body: RefreshIn, session: SessionDep, auth: AuthDep) -> TokensOut:
    """Exchange a refresh token for a new access token and a new refresh token.
    The presented token is spent; presenting it again revokes the whole login session."""
    pair = await auth_service.refresh_tokens(session, auth, refresh_token=body.refresh_token)
    return TokensOut(token=pair.token, refresh_token=pair.refresh_token)


@router.post("/logout")
async def logout(body: RefreshIn, session: SessionDep) -> Message:
    """Revoke the refresh token and every token rotated from the same login."""
    await auth_service.logout(session, refresh_token=body.refresh_token)
    return Message(message="Logged out")


@router.post("/change-password", dependencies=[Depends(rate_limited("change-password", "5/15 minutes"))])
async def change_password(
    body: ChangePasswordIn, user: CurrentUser, session: SessionDep, auth: AuthDep
) -> Message:
    """Change your password. Every refresh token you hold is revoked."""
    await auth_service.change_password(
        session,
        auth,
        user,
        old_password=body.old_password,
        new_password=body.new_password,
        confirm_password=body.confirm_password,
    )
    return Message(message="Password changed successfully")


@router.post("/api-keys", status_code=201)
async def create_api_key(body: ApiKeyIn, user: CurrentUser, session: SessionDep) -> ApiKeyCreatedOut:
    """Create an API key. The key is in this answer only; it is stored hashed."""
    api_key, key = await api_keys.create(session, user, name=body.name, expires_at=body.expires_at)
    return ApiKeyCreatedOut(
        id=api_key.id, name=api_key.name, key=key, prefix=api_key.prefix, expires_at=api_key.expires_at
    )


@router.get("/api-keys")
async def list_api_keys(user: CurrentUser, session: SessionDep) -> ApiKeysOut:
    keys = await api_keys.list_for(session, user)
    return ApiKeysOut(api_keys=[ApiKeyOut.model_validate(key) for key in keys])


@router.delete("/api-keys/{key_id}", status_code=204)
async def delete_api_key(key_id: int, user: CurrentUser, session: SessionDep) -> None:
    await api_keys.revoke(session, user, key_id)


@jwks_router.get("/.well-known/jwks.json")
async def jwks(auth: AuthDep) -> dict[str, Any]:
    """The public key that verifies access tokens, as a JSON Web Key Set."""
    return auth.tokens.jwks()
