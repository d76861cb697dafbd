"""Mandate SDK for Python: task-bound, just-in-time credentials for AI agents.

Agents use :class:`MandateClient` (``with client.task(intent) as task: task.token()``);
resource servers use :class:`ResourceGuard` (``guard.check(token, action, resource)``).
"""

__version__ = "0.1.0"

from .client import MandateClient
from .dpop import DpopProver
from .errors import (
    ApprovalRequired,
    GrantRevoked,
    MandateError,
    RequestRefused,
    RevocationFailed,
    Unavailable,
)
from .resource import Decision, ResourceGuard
from .task import Task, TaskIntent

__all__ = [
    "ApprovalRequired",
    "Decision",
    "DpopProver",
    "GrantRevoked",
    "MandateClient",
    "MandateError",
    "RequestRefused",
    "ResourceGuard",
    "RevocationFailed",
    "Task",
    "TaskIntent",
    "Unavailable",
    "__version__",
]
