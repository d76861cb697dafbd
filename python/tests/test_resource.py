"""The resource side: ResourceGuard.check over AuthZEN evaluation against a real broker."""

from __future__ import annotations

import pytest
from conftest import CRM, Broker

from mandate_sdk import Decision, MandateClient, RequestRefused, ResourceGuard


def test_check_decides_each_action_now(broker: Broker, resource_client: dict[str, str]) -> None:
    creds = broker.create_client(kind="agent")
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"])
    guard = ResourceGuard(broker.url, resource_client["client_id"], resource_client["client_secret"])
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        token = task.token()
        allowed = guard.check(token, "read", CRM, {"ip": "203.0.113.9"})
        assert isinstance(allowed, Decision) and allowed and allowed.decision_id
        assert guard.check_request(task.headers_for("GET", CRM), "GET", CRM, "read", CRM)
        assert not guard.check_request({}, "GET", CRM, "read", CRM), "no token"
        assert not guard.check_request({"authorization": "Basic abc"}, "GET", CRM, "read", CRM)
    assert not guard.check(token, "read", CRM), "the task ended: its grant is revoked"


def test_check_refuses_what_the_grant_does_not_hold(broker: Broker, resource_client: dict[str, str]) -> None:
    creds = broker.create_client(kind="agent", groups=["writers"])
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"])
    guard = ResourceGuard(broker.url, resource_client["client_id"], resource_client["client_secret"])
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        refused = guard.check(task.token(), "write", CRM)
        assert not refused and refused.decision_id and refused.reason, "an action outside the grant"


def test_check_with_wrong_resource_credentials_is_refused(broker: Broker, resource_client: dict[str, str]) -> None:
    guard = ResourceGuard(broker.url, resource_client["client_id"], "wrong-secret")
    with pytest.raises(RequestRefused) as refused:
        guard.check("not-a-token", "read", CRM)
    assert refused.value.status == 401


def test_an_agent_client_may_not_ask_for_decisions(broker: Broker) -> None:
    creds = broker.create_client(kind="agent")
    guard = ResourceGuard(broker.url, creds["client_id"], creds["client_secret"])
    with pytest.raises(RequestRefused) as refused:
        guard.check("not-a-token", "read", CRM)
    assert refused.value.status == 403
