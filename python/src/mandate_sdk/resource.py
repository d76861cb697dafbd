"""The resource side: ask Mandate (OpenID AuthZEN evaluation) whether this call may happen now."""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Mapping

import jwt

from . import _http
from .discovery import normalize_issuer
from .errors import RequestRefused, Unavailable


@dataclass(frozen=True)
class Decision:
    """Mandate's answer for one call. Truthy when permitted.

    Attributes:
        allowed: the AuthZEN ``decision``.
        decision_id: the decision record's id (for the audit trail).
        reason: ``context.reason_admin`` when the broker gave one (codes, policy ids).
    """

    allowed: bool
    decision_id: str | None = None
    reason: Mapping[str, Any] | None = field(default=None)

    def __bool__(self) -> bool:
        return self.allowed


class ResourceGuard:
    """A resource server's client of Mandate, authenticated with its resource client credentials.

    Args:
        issuer: the broker's issuer identifier.
        client_id, client_secret: the resource client's credentials (HTTP Basic).
        timeout: seconds per evaluation request.
    """

    def __init__(self, issuer: str, client_id: str, client_secret: str, *, timeout: float = 5.0) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.issuer = normalize_issuer(issuer)
        self.evaluation_endpoint = f"{self.issuer}/access/v1/evaluation"
        user = urllib.parse.quote_plus(client_id)
        password = urllib.parse.quote_plus(client_secret)
        self._basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.timeout = timeout

    def check(
        self,
        token: str,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        *,
        dpop: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> Decision:
        """Decides ``action`` on ``resource`` for the bearer of ``token``, now.

        Mandate checks the token is live, the pair is granted, the declared step order, and
        re-evaluates policy with ``context`` (e.g. ``{"ip": ..., "step": ...}``) and usage.
        For a DPoP-bound token pass the request's ``DPoP`` proof with its ``method`` and ``url``.

        Raises:
            RequestRefused: the resource client itself was refused (wrong credentials: 401/403)
                or the request was malformed (400).
            Unavailable: Mandate could not be reached or answered 5xx. Fail closed on it.
        """
        properties: dict[str, Any] = {"token": token}
        ctx: dict[str, Any] = dict(context or {})
        if dpop is not None:
            if method is None or url is None:
                raise ValueError("a DPoP proof needs the request's method and url")
            properties["dpop"] = dpop
            ctx["http"] = {"method": method.upper(), "uri": url}
        body: dict[str, Any] = {
            "subject": {"type": "agent", "id": _subject_of(token), "properties": properties},
            "action": {"name": action},
            "resource": {"type": "resource", "id": resource},
        }
        if ctx:
            body["context"] = ctx
        res = _http.request(
            "POST",
            self.evaluation_endpoint,
            headers={"Authorization": self._basic},
            json_body=body,
            timeout=self.timeout,
        )
        answer = res.json()
        if res.status >= 500 or res.status == 429:
            raise Unavailable(f"Mandate evaluation answered {res.status}", status=res.status)
        if res.status != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise RequestRefused(f"Mandate evaluation answered {res.status}", error=error, status=res.status)
        found = answer.get("context")
        extra: dict[str, Any] = found if isinstance(found, dict) else {}
        return Decision(
            allowed=answer.get("decision") is True,
            decision_id=extra.get("decision_id"),
            reason=extra.get("reason_admin"),
        )

    def check_request(
        self,
        headers: Mapping[str, str],
        method: str,
        url: str,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """:meth:`check` for an incoming HTTP request of any framework: reads ``Authorization``
        (``Bearer`` or ``DPoP``) and ``DPoP`` from ``headers``. No token is a refusal."""
        lowered = {k.lower(): v for k, v in headers.items()}
        scheme, _, token = lowered.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "dpop") or not token:
            return Decision(False, reason={"code": "no_token"})
        proof = lowered.get("dpop") if scheme.lower() == "dpop" else None
        return self.check(token, action, resource, context, dpop=proof, method=method, url=url)


def _subject_of(token: str) -> str:
    """The agent the token names (unverified: Mandate verifies the token itself)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return "unknown"
    subject = claims.get("client_id") or claims.get("sub")
    return subject if isinstance(subject, str) and subject else "unknown"
