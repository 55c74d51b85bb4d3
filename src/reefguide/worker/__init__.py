"""The worker SDK: claim jobs over HTTP, run a handler per job type, report.

It talks to the API over HTTP only and shares nothing with the server but the
job type declarations (`reefguide.jobs.types`), so it runs on any machine.
"""

from reefguide.worker.auth import ApiKey, Credentials, Login
from reefguide.worker.client import RetryPolicy, WorkerClient
from reefguide.worker.context import Handler, HandlerResult, JobContext
from reefguide.worker.errors import ApiError, ApiUnavailable, AuthenticationFailed, LeaseLost, WorkerError
from reefguide.worker.handlers import BUILTIN_HANDLERS
from reefguide.worker.sdk import Worker

__all__ = [
    "BUILTIN_HANDLERS",
    "ApiError",
    "ApiKey",
    "ApiUnavailable",
    "AuthenticationFailed",
    "Credentials",
    "Handler",
    "HandlerResult",
    "JobContext",
    "LeaseLost",
    "Login",
    "RetryPolicy",
    "Worker",
    "WorkerClient",
    "WorkerError",
]
