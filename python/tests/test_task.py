"""A task end to end against a real broker: mint, refresh, narrowing, revocation mid-task, end."""

from __future__ import annotations

import pytest
from conftest import CRM, Broker, FakeClock, free_port, task_id

from mandate_sdk import GrantRevoked, MandateClient, RequestRefused, Unavailable


def agent(broker: Broker, groups: list[str] | None = None) -> dict[str, str]:
    return broker.create_client(kind="agent", groups=groups or [])


def test_a_task_mints_refreshes_and_is_revoked_at_exit(
    broker: Broker, resource_client: dict[str, str], clock: FakeClock
) -> None:
    creds = agent(broker)
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"], clock=clock)
    tid = task_id()
    with client.task({"task_id": tid, "purpose": "weekly CRM summary", "actions": ["read"], "locations": [CRM]}) as task:
        first = task.token()
        assert task.token() == first, "a fresh token is reused until it nears expiry"
        assert task.token_type == "Bearer"
        assert task.task_id == tid
        assert task.granted[0]["actions"] == ["read"] and not task.narrowed
        seen = broker.introspect(resource_client, first)
        assert seen["active"] is True and seen["grant_id"] == task.grant_id
        assert seen["client_id"] == creds["client_id"]
        assert task.headers_for("GET", CRM + "/customers") == {"Authorization": f"Bearer {first}"}

        clock.advance(task.expires_at - clock() - 10)  # inside the 30 s refresh skew
        second = task.token()
        assert second != first
        assert broker.introspect(resource_client, second)["active"] is True
        grant_id = task.grant_id

    status, grant = broker.admin("GET", f"/admin/grants/{grant_id}")
    assert status == 200 and grant["status"] == "revoked", grant
    assert broker.introspect(resource_client, second)["active"] is False
    with pytest.raises(GrantRevoked):
        task.token()


def test_a_narrowed_grant_shows_what_was_granted(broker: Broker) -> None:
    creds = agent(broker)  # in no group: read is permitted, write is not
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"])
    with client.task({"actions": ["read", "write"], "locations": [CRM]}) as task:
        assert task.narrowed
        assert [d["actions"] for d in task.granted] == [["read"]]
        assert task.requested[0]["actions"] == ["read", "write"]


def test_a_task_policy_refuses_entirely_is_access_denied(broker: Broker) -> None:
    creds = agent(broker)
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"])
    with pytest.raises(RequestRefused) as refused:
        with client.task({"actions": ["delete"], "locations": [CRM]}):
            pytest.fail("the body must not run")
    assert refused.value.error == "access_denied" and refused.value.status == 400


def test_a_wrong_secret_is_invalid_client(broker: Broker) -> None:
    creds = agent(broker)
    client = MandateClient(broker.url, creds["client_id"], "not-the-secret")
    with pytest.raises(RequestRefused) as refused:
        client.task({"actions": ["read"], "locations": [CRM]}).start()
    assert refused.value.error == "invalid_client" and refused.value.status == 401


def test_revoked_mid_task_raises_grant_revoked_on_the_next_refresh(
    broker: Broker, resource_client: dict[str, str], clock: FakeClock
) -> None:
    creds = agent(broker)
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"], clock=clock)
    with client.task({"actions": ["read"], "locations": [CRM]}) as task:
        token = task.token()
        status, body = broker.admin("POST", "/admin/revocations", {"grant_id": task.grant_id, "reason": "py sdk test"})
        assert status == 200 and body["revoked"]["grants"] == 1, body
        assert broker.introspect(resource_client, token)["active"] is False
        clock.advance(task.expires_at - clock() - 1)
        with pytest.raises(GrantRevoked) as revoked:
            task.token()
        assert revoked.value.error == "invalid_grant" and revoked.value.grant_id == task.grant_id
        with pytest.raises(GrantRevoked):
            task.token()  # stays dead without asking again
    # Leaving a dead task revokes nothing and raises nothing.


def test_an_unreachable_broker_is_unavailable() -> None:
    client = MandateClient(f"http://127.0.0.1:{free_port()}", "agent-x", "secret", timeout=2)
    with pytest.raises(Unavailable):
        client.task({"actions": ["read"], "locations": [CRM]}).start()


def test_a_task_body_error_still_revokes_the_grant(broker: Broker) -> None:
    creds = agent(broker)
    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"])
    with pytest.raises(ZeroDivisionError):
        with client.task({"actions": ["read"], "locations": [CRM]}) as task:
            grant_id = task.grant_id
            1 / 0
    status, grant = broker.admin("GET", f"/admin/grants/{grant_id}")
    assert status == 200 and grant["status"] == "revoked", grant
