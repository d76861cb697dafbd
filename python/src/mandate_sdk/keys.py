"""Signing keys for client assertions and DPoP proofs: loading, algorithms, public JWKs, thumbprints."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Mapping, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey]
"""A private key object of ``cryptography`` that Mandate accepts signatures from."""

PrivateKeyInput = Union[PrivateKey, str, bytes, Mapping[str, Any]]
"""A private key: a ``cryptography`` key object, PKCS#8/PEM text, or a private JWK (with ``d``)."""

ALGORITHMS = ("ES256", "EdDSA", "PS256", "RS256")
"""The JWS algorithms Mandate takes for client assertions and DPoP proofs."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(key: PrivateKeyInput) -> PrivateKey:
    """Turns PEM text, a private JWK or a key object into a key object (EC P-256, Ed25519 or RSA).

    Raises:
        TypeError: for any other kind of key (HMAC secrets, other curves, public keys).
    """
    if isinstance(key, (str, bytes)):
        text = key.encode("ascii") if isinstance(key, str) else key
        loaded: Any = serialization.load_pem_private_key(text, password=None)
    elif isinstance(key, Mapping):
        if "d" not in key:
            raise TypeError("a private JWK (with 'd') is required")
        loaded = _from_private_jwk(key)
    else:
        loaded = key
    if isinstance(loaded, ec.EllipticCurvePrivateKey):
        if not isinstance(loaded.curve, ec.SECP256R1):
            raise TypeError("EC keys must be on P-256 (ES256)")
        return loaded
    if isinstance(loaded, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        return loaded
    raise TypeError("the key must be an EC P-256, Ed25519 or RSA private key")


def _b64int(value: Any) -> int:
    if not isinstance(value, str):
        raise TypeError("a JWK member is missing or not a string")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _from_private_jwk(jwk: Mapping[str, Any]) -> Any:
    """A private key object from a private JWK (EC P-256, Ed25519 or RSA with its CRT members)."""
    kty = jwk.get("kty")
    if kty == "EC" and jwk.get("crv") == "P-256":
        public = ec.EllipticCurvePublicNumbers(_b64int(jwk.get("x")), _b64int(jwk.get("y")), ec.SECP256R1())
        return ec.EllipticCurvePrivateNumbers(_b64int(jwk.get("d")), public).private_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        d = jwk.get("d")
        raw = base64.urlsafe_b64decode(str(d) + "=" * (-len(str(d)) % 4))
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    if kty == "RSA":
        n, e, d, p, q = (_b64int(jwk.get(m)) for m in ("n", "e", "d", "p", "q"))
        dp, dq, qi = (_b64int(jwk.get(m)) for m in ("dp", "dq", "qi"))
        return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
    raise TypeError(f"unsupported JWK (kty {kty!r}); use EC P-256, OKP Ed25519 or RSA")


def algorithm_for(key: PrivateKey, given: str | None = None) -> str:
    """The JWS ``alg`` of ``key``: ``given`` when it fits the key, else ES256 / EdDSA / RS256."""
    default = (
        "ES256"
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else "EdDSA"
        if isinstance(key, ed25519.Ed25519PrivateKey)
        else "RS256"
    )
    if given is None:
        return default
    if given not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    fits = given == default or (default == "RS256" and given == "PS256")
    if not fits:
        raise ValueError(f"algorithm {given} does not fit a {type(key).__name__}")
    return given


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def public_jwk(key: PrivateKey) -> dict[str, str]:
    """The public JWK of ``key`` with only its required members (what RFC 7638 hashes)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _uint(numbers.x, 32), "y": _uint(numbers.y, 32)}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    numbers_rsa = key.public_key().public_numbers()
    return {"kty": "RSA", "n": _uint(numbers_rsa.n), "e": _uint(numbers_rsa.e)}


def jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (what a DPoP-bound token's ``cnf.jkt`` holds)."""
    required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
    members = required[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
