"""RFC 8414 discovery of a Mandate issuer, checked so a token endpoint cannot be swapped in."""

from __future__ import annotations

import urllib.parse
from typing import Any

from . import _http
from .errors import Unavailable

WELL_KNOWN = "/.well-known/oauth-authorization-server"


def metadata_url(issuer: str) -> str:
    """Where RFC 8414 3 puts the metadata: the well-known segment between host and path."""
    parts = urllib.parse.urlsplit(issuer)
    path = parts.path.rstrip("/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, "", ""))


def normalize_issuer(issuer: str) -> str:
    """The issuer identifier without a trailing slash; http only for loopback-style dev brokers is the caller's choice."""
    parts = urllib.parse.urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("issuer must be an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ValueError("issuer must have no query or fragment")
    return issuer.rstrip("/")


def discover(issuer: str, *, timeout: float) -> dict[str, Any]:
    """Fetches the issuer's metadata and checks that it names the same issuer (RFC 8414 3.3).

    Raises:
        Unavailable: unreachable, not 200, not JSON, another issuer, or no token endpoint.
    """
    url = metadata_url(issuer)
    res = _http.request("GET", url, timeout=timeout)
    body = res.json()
    if res.status != 200 or not isinstance(body, dict):
        raise Unavailable(f"discovery at {url} answered {res.status}", status=res.status)
    if str(body.get("issuer", "")).rstrip("/") != issuer:
        raise Unavailable(f"discovery at {url} names another issuer: {body.get('issuer')!r}")
    for name in ("token_endpoint", "revocation_endpoint"):
        endpoint = body.get(name)
        if not isinstance(endpoint, str) or not endpoint:
            raise Unavailable(f"discovery at {url} has no {name}")
        if issuer.startswith("https:") and not endpoint.startswith("https:"):
            raise Unavailable(f"{name} of an https issuer must be https")
    return body
