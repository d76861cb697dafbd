"""HTTP over the standard library (urllib): no redirects, bounded time, network faults as ``Unavailable``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any, Mapping

from . import __version__
from .errors import Unavailable

USER_AGENT = f"mandate-sdk-python/{__version__}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """An OAuth endpoint that redirects is answered as its 3xx, never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class Response:
    """One HTTP answer, read whole."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, ValueError):
            return None

    def header(self, name: str) -> str | None:
        """A response header (case-insensitive)."""
        return self.headers.get(name)


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    json_body: Any = None,
    timeout: float,
) -> Response:
    """Sends one request; any answer (2xx to 5xx) comes back as a ``Response``.

    Raises:
        Unavailable: the server could not be reached or did not answer in time.
    """
    sent: dict[str, str] = {"user-agent": USER_AGENT, "accept": "application/json"}
    data: bytes | None = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode("ascii")
        sent["content-type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode("utf-8")
        sent["content-type"] = "application/json"
    sent.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with _OPENER.open(req, timeout=timeout) as res:
            return Response(res.status, res.headers, res.read())
    except urllib.error.HTTPError as err:
        with err:
            return Response(err.code, err.headers, err.read())
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise Unavailable(f"Mandate could not be reached at {url}: {reason}") from err
