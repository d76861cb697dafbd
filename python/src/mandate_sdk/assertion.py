"""private_key_jwt client assertions (RFC 7523 2.2) signed with PyJWT: a fresh one per request."""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable, cast

import jwt

from .keys import PrivateKeyInput, algorithm_for, load_private_key

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_SEC = 300


class AssertionSigner:
    """Signs client assertions for one client and key.

    Each assertion has ``iss`` = ``sub`` = the client id, ``aud`` = the issuer, ``iat`` now,
    ``exp`` shortly after (at most five minutes, as Mandate requires) and a fresh ``jti``.
    """

    def __init__(
        self,
        client_id: str,
        private_key: PrivateKeyInput,
        *,
        algorithm: str | None = None,
        key_id: str | None = None,
        lifetime_sec: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < lifetime_sec <= MAX_LIFETIME_SEC:
            raise ValueError(f"lifetime_sec must be between 1 and {MAX_LIFETIME_SEC}")
        self._client_id = client_id
        self._key = load_private_key(private_key)
        self._alg = algorithm_for(self._key, algorithm)
        jwk_kid = private_key.get("kid") if isinstance(private_key, dict) else None
        self._kid = key_id if key_id is not None else jwk_kid
        self._lifetime = lifetime_sec
        self._clock = clock

    @property
    def algorithm(self) -> str:
        """The JWS ``alg`` the assertions carry."""
        return self._alg

    def sign(self, audience: str) -> str:
        """A new assertion for ``audience`` (Mandate's issuer identifier)."""
        iat = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": audience,
            "iat": iat,
            "exp": iat + self._lifetime,
            "jti": str(uuid.uuid4()),
        }
        headers = {"typ": "JWT"}
        if self._kid:
            headers["kid"] = self._kid
        return jwt.encode(claims, cast(Any, self._key), algorithm=self._alg, headers=headers)

    def form(self, audience: str) -> dict[str, str]:
        """The form parameters that authenticate the client at a token, revocation or introspection endpoint."""
        return {
            "client_id": self._client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.sign(audience),
        }
