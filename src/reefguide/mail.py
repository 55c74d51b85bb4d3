"""Outgoing mail: SMTP when SMTP_HOST is set, otherwise the message is written to the log.

The log mailer lets a single-machine user read a password reset code from the
server's output; nothing else needs installing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import structlog

from reefguide.settings import Settings

log = structlog.get_logger("reefguide.mail")

# The port of SMTP over TLS from the first byte (RFC 8314); other ports start in
# plain text and upgrade with STARTTLS when SMTP_STARTTLS is true.
IMPLICIT_TLS_PORT = 465
SMTP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Deliver `message`, or raise."""
        ...


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    async def send(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        implicit_tls = self.port == IMPLICIT_TLS_PORT
        await aiosmtplib.send(
            email,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            use_tls=implicit_tls,
            # False rather than None: never upgrade behind the operator's back either.
            start_tls=self.starttls and not implicit_tls,
            timeout=self.timeout,
        )
        log.info("mail.sent", to=message.to, subject=message.subject)


class LogMailer:
    """Writes each message to the log instead of sending it.

    The text goes in the `body` field: the log redacts fields with secret-sounding
    names (such as `code`), and the reader needs to see the code.
    """

    async def send(self, message: MailMessage) -> None:
        log.warning(
            "mail.logged",
            reason="SMTP_HOST is not set, so this message was written here instead of sent",
            to=message.to,
            subject=message.subject,
            body=message.body,
        )


def build_mailer(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return LogMailer()
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )


async def send_quietly(mailer: Mailer, message: MailMessage) -> None:
    """Send, logging a failure instead of raising: for work done after the response."""
    try:
        await mailer.send(message)
    except Exception:
        log.exception("mail.failed", to=message.to, subject=message.subject)
