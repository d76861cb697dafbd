"""private_key_jwt (RFC 7523) and DPoP (RFC 9449) against a real broker."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import jwt
import pytest
from conftest import CRM, Broker, FakeClock
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from mandate_sdk import MandateClient, RequestRefused, ResourceGuard

KEYS: dict[str, Any] = {
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": lambda: ed25519.Ed25519PrivateKey.generate(),
    "PS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}
TO_JWK = {"ES256": ECAlgorithm, "EdDSA": OKPAlgorithm, "PS256": RSAAlgorithm, "RS256": RSAAlgorithm}


def public_jwk_of(alg: str, key: Any, kid: str) -> dict[str, Any]:
    """The public JWK as PyJWT writes it (independent of the SDK's own export)."""
    jwk = json.loads(TO_JWK[alg].to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def pem_of(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS256"])
def test_private_key_jwt_mints_refreshes_and_revokes(
    broker: Broker, resource_client: dict[str, str], clock: FakeClock, alg: str
) -> None:
    key = KEYS[alg]()
    kid = f"k-{alg.lower()}"
    registered = broker.create_client(
        kind="agent",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public_jwk_of(alg, key, kid)]},
    )
    assert registered["client_secret"] is None, "a private_key_jwt client has no secret"
    # PEM text with an explicit kid for two algorithms; a private JWK carrying its kid for the others.
    if alg in ("ES256", "PS256"):
        client = MandateClient(
            broker.url, registered["client_id"], private_key=pem_of(key), key_id=kid, algorithm=alg, clock=clock
        )
    else:
        private_jwk = {**json.loads(TO_JWK[alg].to_jwk(key)), "kid": kid}
        assert "d" in private_jwk
        client = MandateClient(broker.url, registered["client_id"], private_key=private_jwk, clock=clock)
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        first = task.token()
        assert broker.introspect(resource_client, first)["client_id"] == registered["client_id"]
        clock.advance(task.expires_at - clock() - 5)
        assert task.token() != first  # a refresh with a new assertion (its own jti)
        grant_id = task.grant_id
    status, grant = broker.admin("GET", f"/admin/grants/{grant_id}")
    assert grant["status"] == "revoked", grant  # the revocation authenticated with an assertion too


def test_private_key_jwt_assertion_claims() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = MandateClient("https://mandate.example.com", "agent-7", private_key=key)
    form = client._authenticate({})[1]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    one = jwt.decode(form["client_assertion"], key.public_key(), algorithms=["ES256"], audience="https://mandate.example.com")
    two = jwt.decode(client._authenticate({})[1]["client_assertion"], key.public_key(), algorithms=["ES256"], audience="https://mandate.example.com")
    assert one["iss"] == one["sub"] == "agent-7"
    assert 0 < one["exp"] - one["iat"] <= 300
    assert one["jti"] != two["jti"]


def test_a_key_the_broker_does_not_know_is_invalid_client(broker: Broker) -> None:
    registered = broker.create_client(
        kind="agent",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public_jwk_of("ES256", KEYS["ES256"](), "k1")]},
    )
    client = MandateClient(broker.url, registered["client_id"], private_key=KEYS["ES256"](), key_id="k1")
    with pytest.raises(RequestRefused) as refused:
        client.task({"actions": ["read"], "locations": [CRM]}).start()
    assert refused.value.error == "invalid_client"


def thumbprint(jwk: dict[str, str]) -> str:
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def test_dpop_binds_the_token_and_retries_with_the_nonce(
    broker: Broker, resource_client: dict[str, str], clock: FakeClock
) -> None:
    creds = broker.create_client(kind="agent")
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"], dpop=True, clock=clock)
    assert client.dpop is not None
    token_endpoint = client.metadata["token_endpoint"]
    assert client.dpop.nonce_for(token_endpoint) is None
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        token = task.token()
        assert task.token_type == "DPoP"
        # The broker demands nonces (dpop.require_nonce): the first proof had none, the retry did.
        assert client.dpop.nonce_for(token_endpoint)
        seen = broker.introspect(resource_client, token)
        assert seen["active"] is True
        assert seen["cnf"]["jkt"] == client.dpop.thumbprint == thumbprint(client.dpop.public_jwk)
        assert jwt.decode(token, options={"verify_signature": False})["cnf"]["jkt"] == client.dpop.thumbprint

        url = CRM + "/customers?page=2"
        headers = task.headers_for("GET", url)
        assert headers["Authorization"] == f"DPoP {token}"
        proof_header = jwt.get_unverified_header(headers["DPoP"])
        assert proof_header["typ"] == "dpop+jwt" and proof_header["alg"] == "ES256" and "d" not in proof_header["jwk"]
        proof = jwt.decode(headers["DPoP"], options={"verify_signature": False})
        assert proof["htm"] == "GET" and proof["htu"] == CRM + "/customers"
        assert proof["ath"] == base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()

        guard = ResourceGuard(broker.url, resource_client["client_id"], resource_client["client_secret"])
        assert guard.check_request(headers, "GET", url, "read", CRM).allowed
        # A bound token without its proof is refused.
        assert not guard.check(token, "read", CRM).allowed

        clock.advance(task.expires_at - clock() - 5)
        refreshed = task.token()  # the refresh carries a proof by the same key
        assert refreshed != token
        assert broker.introspect(resource_client, refreshed)["cnf"]["jkt"] == client.dpop.thumbprint


def test_dpop_with_an_own_ed25519_key(broker: Broker, resource_client: dict[str, str]) -> None:
    creds = broker.create_client(kind="agent")
    key = ed25519.Ed25519PrivateKey.generate()
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"], dpop=key)
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        seen = broker.introspect(resource_client, task.token())
        assert task.token_type == "DPoP" and seen["cnf"]["jkt"] == client.dpop.thumbprint  # type: ignore[union-attr]
