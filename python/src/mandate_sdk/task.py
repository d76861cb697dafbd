"""A running task: the grant it holds, a token that stays valid, and the revocation when it ends."""

from __future__ import annotations

import json
import threading
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any, Mapping, NotRequired, Sequence, TypedDict

from .errors import ApprovalRequired, GrantRevoked, RequestRefused, RevocationFailed, Unavailable

if TYPE_CHECKING:
    from .client import MandateClient

# Refusals of a refresh that mean the grant is over (revoked, suspended, expired, client disabled).
_REFUSED_ON_REFRESH = frozenset({"invalid_grant", "access_denied", "invalid_client", "unauthorized_client"})
_DEFAULT_EXPIRES_IN = 60


class TaskIntent(TypedDict):
    """One ``agent_task`` entry of ``authorization_details`` (RFC 9396).

    ``type`` is added when missing, and a generated ``task_id`` when none is given.
    """

    actions: list[str]
    locations: list[str]
    type: NotRequired[str]
    task_id: NotRequired[str]
    purpose: NotRequired[str]
    datatypes: NotRequired[list[str]]
    steps: NotRequired[list[str]]
    ttl: NotRequired[int]


class Task:
    """A task-bound grant. Use it as a context manager::

        with client.task({"actions": ["read"], "locations": [crm]}) as task:
            requests.get(crm, headers=task.headers_for("GET", crm))

    Entering mints the grant (raising :class:`ApprovalRequired` when a human must approve first),
    :meth:`token` refreshes shortly before expiry, and leaving revokes the refresh token (RFC 7009),
    which ends the grant.
    """

    def __init__(
        self,
        client: MandateClient,
        intent: TaskIntent | Sequence[TaskIntent],
        *,
        wait_for_approval: bool = False,
        approval_timeout: float | None = None,
    ) -> None:
        entries = [intent] if isinstance(intent, Mapping) else list(intent)
        if not entries:
            raise ValueError("a task needs at least one intent entry")
        self._client = client
        # The broker wants a task_id on every entry; one task shares one generated id.
        generated = f"T-{uuid.uuid4().hex[:16]}"
        self.requested: list[dict[str, Any]] = [
            {"type": "agent_task", "task_id": generated, **dict(e)} for e in entries
        ]
        self._wait = wait_for_approval
        self._approval_timeout = approval_timeout
        self._lock = threading.RLock()
        self._state: dict[str, Any] | None = None
        self._dead: GrantRevoked | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Task:
        if self._state is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.end()
        except RevocationFailed:
            # The body's own error matters more; a failed revocation alone is raised.
            if exc is None:
                raise

    def start(self) -> Task:
        """Asks for the grant (``client_credentials`` with ``authorization_details``).

        Raises:
            ApprovalRequired: a human must approve; call its ``wait_for_approval()``.
            RequestRefused: refused (``access_denied`` when policy permits none of the pairs).
            Unavailable: the broker could not be reached.
        """
        params = {
            "grant_type": "client_credentials",
            "authorization_details": _json(self.requested),
        }
        try:
            response = self._client.request_token(params)
        except ApprovalRequired as approval:
            approval._waiter = self._await_approval(approval)
            if not self._wait:
                raise
            return approval.wait_for_approval(self._approval_timeout)
        self._adopt(response)
        return self

    def _await_approval(self, approval: ApprovalRequired) -> Any:
        def wait(timeout: float | None) -> Task:
            self._adopt(self._client.poll_approval(approval, timeout))
            return self

        return wait

    def end(self) -> None:
        """Revokes the grant (its refresh token, RFC 7009). Later :meth:`token` calls raise.

        Raises:
            RevocationFailed: the broker could not revoke it; the task stays usable, retry ``end()``.
        """
        with self._lock:
            if self._dead is not None or self._state is None:
                return
            try:
                self._client.revoke(self._state["refresh_token"], "refresh_token")
            except (RequestRefused, Unavailable) as err:
                raise RevocationFailed(f"could not revoke grant {self.grant_id}: {err}") from err
            self._dead = GrantRevoked(self.grant_id, error="task_ended")

    # -- tokens -------------------------------------------------------------------------------

    def token(self) -> str:
        """A currently valid access token, refreshed ``refresh_skew`` seconds before it expires.

        Raises:
            GrantRevoked: the broker refused to refresh (revoked, suspended, expired) or the task ended.
            Unavailable: the broker is unreachable and the current token has expired.
        """
        with self._lock:
            state = self._live()
            if self._client.clock() < state["refresh_at"]:
                return str(state["access_token"])
            return self.refresh()

    def refresh(self) -> str:
        """Refreshes now (``refresh_token`` grant: policy is re-evaluated; the grant may narrow)."""
        with self._lock:
            state = self._live()
            params = {"grant_type": "refresh_token", "refresh_token": state["refresh_token"]}
            try:
                response = self._client.request_token(params)
            except RequestRefused as refused:
                if refused.error in _REFUSED_ON_REFRESH:
                    self._dead = GrantRevoked(
                        self.grant_id, error=refused.error, status=refused.status, description=refused.description
                    )
                    raise self._dead from refused
                raise
            except Unavailable:
                # A transient fault: the current token serves until it really expires.
                if self._client.clock() < state["expires_at"]:
                    return str(state["access_token"])
                raise
            self._adopt(response)
            return str(self._live()["access_token"])

    def headers_for(self, method: str, url: str) -> dict[str, str]:
        """Headers for one call to a resource: ``Authorization: Bearer <token>``, or for a
        DPoP-bound token ``Authorization: DPoP <token>`` plus a fresh ``DPoP`` proof for
        this method and URL (RFC 9449 7)."""
        token = self.token()
        prover = self._client.dpop
        if prover is None or self.token_type.lower() != "dpop":
            return {"Authorization": f"Bearer {token}"}
        return {"Authorization": f"DPoP {token}", "DPoP": prover.proof(method, url, access_token=token)}

    # -- what was granted ---------------------------------------------------------------------

    @property
    def grant_id(self) -> str:
        """The grant's id (what ``/admin/grants/{id}`` and revocations name)."""
        return str(self._started()["grant_id"])

    @property
    def task_id(self) -> str | None:
        """The granted entry's ``task_id`` (the broker assigns one when none was asked)."""
        granted = self.granted
        return granted[0].get("task_id") if granted else None

    @property
    def granted(self) -> list[dict[str, Any]]:
        """``authorization_details`` as the latest token response granted: may be narrower than asked."""
        return list(self._started()["details"])

    @property
    def narrowed(self) -> bool:
        """True when some asked (action, location) pair was not granted."""
        return bool(_pairs(self.requested) - _pairs(self.granted))

    @property
    def token_type(self) -> str:
        """``Bearer``, or ``DPoP`` when the token is bound to the client's DPoP key."""
        return str(self._started()["token_type"])

    @property
    def expires_at(self) -> float:
        """When the current access token expires (epoch seconds, by the client's clock)."""
        return float(self._started()["expires_at"])

    # -- internals ----------------------------------------------------------------------------

    def _adopt(self, response: Mapping[str, Any]) -> None:
        now = self._client.clock()
        lifetime = response.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, (int, float)) else _DEFAULT_EXPIRES_IN
        previous = self._state or {}
        refresh_token = response.get("refresh_token") or previous.get("refresh_token")
        grant_id = response.get("grant_id") or previous.get("grant_id")
        if not isinstance(refresh_token, str) or not isinstance(grant_id, str):
            raise Unavailable("the token response has no refresh_token or grant_id")
        details = response.get("authorization_details")
        self._state = {
            "access_token": response["access_token"],
            "token_type": response.get("token_type", "Bearer"),
            "refresh_token": refresh_token,
            "grant_id": grant_id,
            "details": details if isinstance(details, list) else [],
            "expires_at": now + lifetime,
            # Short-lived tokens refresh at half-life so a large skew never means "always refresh".
            "refresh_at": now + max(lifetime - self._client.refresh_skew, lifetime / 2),
        }

    def _started(self) -> dict[str, Any]:
        if self._state is None:
            raise RuntimeError("the task has not started: use `with client.task(...) as task`")
        return self._state

    def _live(self) -> dict[str, Any]:
        if self._dead is not None:
            raise self._dead
        return self._started()


def _pairs(details: Sequence[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(a, loc) for d in details for a in d.get("actions", []) for loc in d.get("locations", [])}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
