"""What the worker's HTTP client raises."""

from __future__ import annotations


class WorkerError(Exception):
    """Base of the worker's errors."""


class ApiError(WorkerError):
    """The API answered with an error that retrying will not change (a 4xx)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


class LeaseLost(ApiError):
    """The assignment is no longer ours (409, or 404): stop working on it, report nothing."""


class AuthenticationFailed(ApiError):
    """The credentials were refused, or the account may not use the worker routes."""


class ApiUnavailable(WorkerError):
    """The API could not be reached (network errors, 5xx) within the retry budget."""
