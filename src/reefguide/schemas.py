"""Shared pydantic pieces: the camelCase base model and normalised email types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Bodies are camelCase on the wire, as the original's are."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class Message(BaseModel):
    message: str


def normalise_email(value: object) -> object:
    """Emails are trimmed and lower-cased everywhere."""
    return value.strip().lower() if isinstance(value, str) else value


def _check_email(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"Invalid email address: {exc}") from None
    return value


# A new address (registration, user creation, pre-approval): normalised and checked.
Email = Annotated[str, BeforeValidator(normalise_email), Field(max_length=320), AfterValidator(_check_email)]
# An address we only look up (login, reset request): normalised, never rejected for its form.
EmailLookup = Annotated[str, BeforeValidator(normalise_email), Field(min_length=1, max_length=320)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


def _as_utc(value: datetime) -> datetime:
    """A timestamp without an offset is taken as UTC; every timestamp is stored in UTC."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("Timestamp is out of range") from None


# A timestamp from a client, in UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
