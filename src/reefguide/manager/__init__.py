"""The capacity manager: starts workers on a compute backend as the job backlog grows.

Like the worker, it talks to the API over HTTP only (it reads `GET /api/jobs/stats`)
and shares nothing with the server but the job type declarations and the compute
backend protocol.
"""

from reefguide.manager.config import ManagerConfig, ManagerConfigError, load_manager_config
from reefguide.manager.formula import Decision, decide, round_half_up, target_workers
from reefguide.manager.loop import CapacityManager, PollOutcome

__all__ = [
    "CapacityManager",
    "Decision",
    "ManagerConfig",
    "ManagerConfigError",
    "PollOutcome",
    "decide",
    "load_manager_config",
    "round_half_up",
    "target_workers",
]
