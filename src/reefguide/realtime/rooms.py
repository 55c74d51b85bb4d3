"""Room names. A connection joins its user's room (and ADMIN for admins) at connect,
and a job's room when it subscribes to that job."""

from __future__ import annotations

ADMIN_ROOM = "ADMIN"


def user_room(user_id: int) -> str:
    return f"USER:{user_id}"


def job_room(job_id: int) -> str:
    return f"JOB:{job_id}"
