"""The agent's client of one Mandate issuer: discovery, client authentication, token and revocation calls."""

from __future__ import annotations

import base64
import threading
import time
import urllib.parse
from typing import Any, Callable, Mapping, Sequence

from . import _http
from .assertion import AssertionSigner
from .discovery import discover, normalize_issuer
from .dpop import DpopProver
from .errors import ApprovalRequired, RequestRefused, Unavailable
from .keys import PrivateKeyInput
from .task import Task, TaskIntent

CIBA_GRANT = "urn:openid:params:grant-type:ciba"


class MandateClient:
    """An agent-side client of one Mandate broker.

    Args:
        issuer: the broker's issuer identifier, e.g. ``https://mandate.example.com``.
        client_id: the agent's client id.
        client_secret: its secret (sent with HTTP Basic). Give this or ``private_key``.
        private_key: ``private_key_jwt`` (RFC 7523): PEM text, a private JWK or a ``cryptography``
            key (EC P-256, Ed25519, RSA); each request carries a fresh assertion signed with it.
        dpop: ``True`` binds tokens to a fresh ES256 key (RFC 9449), or pass your own private key
            or a :class:`~mandate_sdk.dpop.DpopProver`.
        key_id: the ``kid`` of assertions (default: the JWK's ``kid``, else none).
        algorithm: the assertions' ``alg`` (default from the key; ``PS256`` for RSA-PSS).
        refresh_skew: refresh this many seconds before the access token expires.
        timeout: seconds for each HTTP request.
        clock: epoch seconds for refresh scheduling and approval deadlines (tests move it;
            assertions and proofs always carry the real time); ``sleep``: how polling waits.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        private_key: PrivateKeyInput | None = None,
        *,
        dpop: bool | PrivateKeyInput | DpopProver = False,
        key_id: str | None = None,
        algorithm: str | None = None,
        refresh_skew: float = 30.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        if (client_secret is None) == (private_key is None) or client_secret == "":
            raise ValueError("give exactly one of client_secret or private_key")
        if refresh_skew < 0:
            raise ValueError("refresh_skew must be >= 0")
        self.issuer = normalize_issuer(issuer)
        self.client_id = client_id
        self.refresh_skew = refresh_skew
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self._secret = client_secret
        self._signer = (
            AssertionSigner(client_id, private_key, algorithm=algorithm, key_id=key_id)
            if private_key is not None
            else None
        )
        if isinstance(dpop, DpopProver):
            self.dpop: DpopProver | None = dpop
        elif dpop is False or dpop is None:
            self.dpop = None
        else:
            self.dpop = DpopProver(dpop)
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @property
    def metadata(self) -> dict[str, Any]:
        """The issuer's RFC 8414 metadata, fetched on first use (and again after a failure)."""
        with self._lock:
            if self._metadata is None:
                self._metadata = discover(self.issuer, timeout=self.timeout)
            return self._metadata

    def task(
        self,
        intent: TaskIntent | Sequence[TaskIntent],
        *,
        wait_for_approval: bool = False,
        approval_timeout: float | None = None,
    ) -> Task:
        """A task for ``intent`` (one ``agent_task`` entry or several, ``type`` optional).

        Use it as a context manager: the grant is minted on enter and revoked on exit. With
        ``wait_for_approval``, an ``approval_required`` answer is polled until decided instead
        of raising :class:`~mandate_sdk.errors.ApprovalRequired`.
        """
        return Task(self, intent, wait_for_approval=wait_for_approval, approval_timeout=approval_timeout)

    def dpop_proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A DPoP proof by this client's key for one request (with ``ath`` for ``access_token``)."""
        if self.dpop is None:
            raise RuntimeError("the client was created without dpop")
        return self.dpop.proof(method, url, access_token=access_token)

    # -- calls used by Task -------------------------------------------------------------------

    def request_token(self, params: Mapping[str, str]) -> dict[str, Any]:
        """One token request with client authentication and, for a DPoP client, a proof.

        A ``use_dpop_nonce`` answer is retried once with the nonce the broker sent.

        Raises:
            ApprovalRequired, RequestRefused, Unavailable.
        """
        endpoint = str(self.metadata["token_endpoint"])
        for attempt in range(2):
            headers, form = self._authenticate(dict(params))
            if self.dpop is not None:
                headers["DPoP"] = self.dpop.proof("POST", endpoint)
            res = _http.request("POST", endpoint, headers=headers, form=form, timeout=self.timeout)
            if self.dpop is not None:
                self.dpop.remember_nonce(endpoint, res.header("DPoP-Nonce"))
            body = res.json()
            if res.status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str):
                return body
            error = body.get("error") if isinstance(body, dict) else None
            if error == "use_dpop_nonce" and self.dpop is not None and attempt == 0 and res.header("DPoP-Nonce"):
                continue
            raise self._refusal(res, body)
        raise AssertionError("unreachable")

    def revoke(self, token: str, hint: str) -> None:
        """RFC 7009 revocation of one of this client's tokens.

        Raises:
            RequestRefused: the broker refused the call (e.g. ``invalid_client``).
            Unavailable: it could not be reached or answered 5xx.
        """
        endpoint = str(self.metadata["revocation_endpoint"])
        headers, form = self._authenticate({"token": token, "token_type_hint": hint})
        res = _http.request("POST", endpoint, headers=headers, form=form, timeout=self.timeout)
        if res.status != 200:
            raise self._refusal(res, res.json())

    def poll_approval(self, approval: ApprovalRequired, timeout: float | None) -> dict[str, Any]:
        """Polls with the CIBA grant until decided: waits ``interval`` between polls, 5 s more
        after each ``slow_down``, stops at the request's expiry or ``timeout``."""
        interval = max(1.0, float(approval.interval))
        start = self.clock()
        expires_at = start + approval.expires_in
        give_up_at = min(expires_at, start + timeout) if timeout is not None else expires_at
        params = {"grant_type": CIBA_GRANT, "auth_req_id": approval.auth_req_id}
        while True:
            remaining = give_up_at - self.clock()
            if remaining <= 0:
                break
            self.sleep(min(interval, remaining))
            try:
                return self.request_token(params)
            except RequestRefused as refused:
                if refused.error == "authorization_pending":
                    continue
                if refused.error == "slow_down":
                    interval += 5
                    continue
                raise
        if timeout is not None and give_up_at < expires_at:
            raise TimeoutError(f"no decision on approval {approval.auth_req_id} within {timeout} s")
        raise RequestRefused("the approval request expired", error="expired_token", status=400)

    # -- helpers ------------------------------------------------------------------------------

    def _authenticate(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """HTTP Basic (RFC 6749 2.3.1: each part form-urlencoded) or a fresh client assertion."""
        if self._signer is not None:
            form.update(self._signer.form(self.issuer))
            return {}, form
        user = urllib.parse.quote_plus(self.client_id)
        password = urllib.parse.quote_plus(self._secret or "")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}, form

    def _refusal(self, res: _http.Response, body: Any) -> Exception:
        """Maps a non-success answer onto the SDK's errors."""
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        if res.status >= 500 or res.status == 429 or not isinstance(error, str):
            return Unavailable(
                f"Mandate answered {res.status}" + (f" {error}" if isinstance(error, str) else ""),
                error=error if isinstance(error, str) else None,
                status=res.status,
            )
        if error == "approval_required" and isinstance(body.get("auth_req_id"), str):
            return ApprovalRequired(
                body["auth_req_id"],
                int(body.get("expires_in", 300)),
                int(body.get("interval", 5)),
            )
        text = f"{error}: {description}" if isinstance(description, str) else error
        return RequestRefused(text, error=error, status=res.status, description=description)
