"""DPoP proofs (RFC 9449): the agent's proof key and one proof per request, signed with PyJWT."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import urllib.parse
from typing import Any, Callable, cast

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from .keys import PrivateKey, PrivateKeyInput, algorithm_for, b64url, jwk_thumbprint, load_private_key, public_jwk


def access_token_hash(token: str) -> str:
    """``ath``: base64url(SHA-256(access token))."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def htu_of(url: str) -> str:
    """The ``htu`` of a request: its URL without query and fragment (RFC 9449 4.2)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("DPoP: the URL must be an absolute http(s) URL")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


class DpopProver:
    """Makes proofs with one key and remembers the latest ``DPoP-Nonce`` a server sent.

    Args:
        key: ``True`` for a fresh EC P-256 key (ES256), or your own private key
            (EC P-256, Ed25519, RSA; PEM, private JWK or ``cryptography`` object).
        algorithm: for an RSA key, ``RS256`` (default) or ``PS256``.
    """

    def __init__(
        self,
        key: PrivateKeyInput | bool = True,
        *,
        algorithm: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key: PrivateKey
        if key is True:
            self._key = ec.generate_private_key(ec.SECP256R1())
        elif key is False:
            raise ValueError("DpopProver needs a key or True")
        else:
            self._key = load_private_key(key)
        self._alg = algorithm_for(self._key, algorithm)
        self._jwk = public_jwk(self._key)
        self._jkt = jwk_thumbprint(self._jwk)
        self._clock = clock
        self._nonces: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the public key: what bound tokens carry as ``cnf.jkt``."""
        return self._jkt

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public key as it travels in each proof's ``jwk`` header."""
        return dict(self._jwk)

    def nonce_for(self, url: str) -> str | None:
        """The latest nonce the server at ``url``'s origin sent, if any."""
        with self._lock:
            return self._nonces.get(_origin(url))

    def remember_nonce(self, url: str, nonce: str | None) -> None:
        """Keeps a ``DPoP-Nonce`` answer for the next proofs to that origin."""
        if nonce:
            with self._lock:
                self._nonces[_origin(url)] = nonce

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
    ) -> str:
        """A proof for one request: ``htm``, ``htu``, ``iat``, a fresh ``jti``; ``ath`` for the
        access token it goes with; the server's ``nonce`` (given, or the one remembered)."""
        claims: dict[str, object] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method.upper(),
            "htu": htu_of(url),
            "iat": int(self._clock()),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        chosen = nonce if nonce is not None else self.nonce_for(url)
        if chosen:
            claims["nonce"] = chosen
        headers = {"typ": "dpop+jwt", "jwk": self._jwk}
        return jwt.encode(claims, cast(Any, self._key), algorithm=self._alg, headers=headers)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
