"""HTTP routes of /api/password-reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from pydantic import Field

from reefguide.auth.dependencies import AuthDep
from reefguide.db.session import SessionDep
from reefguide.http.routing import ApiRouter
from reefguide.mail import Mailer, send_quietly
from reefguide.ratelimit import rate_limited
from reefguide.schemas import ApiModel, EmailLookup, Message, Password
from reefguide.users import password_reset

router = ApiRouter(prefix="/password-reset", tags=["password reset"])

REQUESTED = "If an account with that email exists, a reset code has been sent."


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]


class ResetRequestIn(ApiModel):
    email: EmailLookup


class ResetConfirmIn(ApiModel):
    code: str = Field(min_length=1, max_length=32, description="The 6-digit code from the mail.")
    new_password: Password
    confirm_password: Password
    email: EmailLookup | None = Field(
        None,
        description=(
            "The account's email. Recommended: with it, each wrong code counts against "
            f"that account's code, which dies after {password_reset.MAX_ATTEMPTS} tries."
        ),
    )


@router.post("/request", dependencies=[Depends(rate_limited("password-reset-request", "5/15 minutes"))])
async def request_reset(
    body: ResetRequestIn, session: SessionDep, auth: AuthDep, mailer: MailerDep, background: BackgroundTasks
) -> Message:
    """Mail a 6-digit reset code, valid for 30 minutes, to the account with this email.

    The answer is the same whether or not the account exists, and the mail goes out
    after the answer, so neither the body nor the timing tells. Asking again retires
    the earlier code. Without SMTP_HOST, the mail is written to the server's log.
    (The original answered 400 when a code had been asked for in the last five
    minutes, which told whether the account exists; this service does not.)
    """
    issued = await password_reset.request_reset(session, auth, body.email)
    if issued is not None:
        background.add_task(send_quietly, mailer, password_reset.reset_mail(issued))
    return Message(message=REQUESTED)


@router.post("/confirm", dependencies=[Depends(rate_limited("password-reset-confirm", "10/15 minutes"))])
async def confirm_reset(body: ResetConfirmIn, session: SessionDep, auth: AuthDep) -> Message:
    """Set a new password with a reset code. Every refresh token of the account is
    revoked (the original left them valid).

    Any wrong, expired or spent code answers 400 "Invalid or expired reset code".
    Send `email` too: a code then dies after five wrong tries, even if it is later
    given correctly. Without `email` the code is looked up on its own, as in the
    original, and only the rate limit bounds guessing.
    """
    await password_reset.confirm_reset(
        session,
        auth,
        code=body.code,
        new_password=body.new_password,
        confirm_password=body.confirm_password,
        email=body.email,
    )
    return Message(message="Password has been reset successfully")
