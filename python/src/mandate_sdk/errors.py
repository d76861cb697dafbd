"""Errors the SDK raises, each with a stable string ``code`` callers can switch on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .task import Task


class MandateError(Exception):
    """Base class of the SDK's errors.

    Attributes:
        code: the SDK's stable code (``request_refused``, ``grant_revoked``, ...).
        error: the OAuth ``error`` the broker answered, when it answered one.
        status: the HTTP status the broker answered, when it answered.
        description: the broker's ``error_description``, when given.
    """

    code: str = "mandate_error"

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        status: int | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error = error
        self.status = status
        self.description = description


class RequestRefused(MandateError):
    """The broker refused the request (``access_denied``, ``invalid_client``, ...): see ``error``."""

    code = "request_refused"


class Unavailable(MandateError):
    """The broker could not be reached, or answered 5xx / 429 / something that is not OAuth."""

    code = "unavailable"


class GrantRevoked(MandateError):
    """The grant is over: revoked, suspended, expired, refused on refresh, or its task ended.

    Ask for a new task; policy decides it afresh.
    """

    code = "grant_revoked"

    def __init__(self, grant_id: str, **kwargs: Any) -> None:
        super().__init__(f"grant {grant_id} is no longer active", **kwargs)
        self.grant_id = grant_id


class RevocationFailed(MandateError):
    """Ending the task could not revoke its grant: it stays live until its ttl."""

    code = "revocation_failed"


class ApprovalRequired(MandateError):
    """Policy wants a human to approve the task first (OpenID CIBA polling follows).

    Attributes:
        auth_req_id: the handle polled with ``urn:openid:params:grant-type:ciba``.
        expires_in: seconds until the approval request lapses.
        interval: seconds to wait between polls.
    """

    code = "approval_required"

    def __init__(
        self,
        auth_req_id: str,
        expires_in: int,
        interval: int,
        *,
        waiter: Callable[[float | None], Task] | None = None,
    ) -> None:
        super().__init__(
            "the task needs a human approval before a token is issued",
            error="approval_required",
            status=400,
        )
        self.auth_req_id = auth_req_id
        self.expires_in = expires_in
        self.interval = interval
        self._waiter = waiter

    def wait_for_approval(self, timeout: float | None = None) -> Task:
        """Polls the broker (honouring ``interval`` and ``slow_down``) until an approver decides.

        Returns the started task (use it as a context manager so it is revoked at the end).

        Raises:
            RequestRefused: ``access_denied`` when denied, ``expired_token`` when the request lapsed.
            TimeoutError: when ``timeout`` seconds passed first (the request stays pending).
        """
        if self._waiter is None:
            raise RuntimeError("this ApprovalRequired is not attached to a task")
        return self._waiter(timeout)
