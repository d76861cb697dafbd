"""Human approval: approval_required, CIBA polling that honours interval and slow_down, approve and deny."""

from __future__ import annotations

import time

import pytest
from conftest import APPROVAL_INTERVAL_SEC, CRM, Broker

from mandate_sdk import ApprovalRequired, MandateClient, RequestRefused

EXPORT = {"purpose": "quarterly export", "actions": ["export"], "locations": [CRM]}


def exporter(broker: Broker) -> tuple[dict[str, str], MandateClient]:
    creds = broker.create_client(kind="agent", groups=["exporters"])
    return creds, MandateClient(broker.url, creds["client_id"], creds["client_secret"])


def test_an_approved_task_starts_after_polling(broker: Broker, resource_client: dict[str, str]) -> None:
    creds, client = exporter(broker)
    with pytest.raises(ApprovalRequired) as caught:
        with client.task(EXPORT):
            pytest.fail("the body must not run before approval")
    approval = caught.value
    assert approval.auth_req_id and approval.interval == APPROVAL_INTERVAL_SEC and approval.expires_in > 0

    decider = broker.decide_when_pending(creds["client_id"], "approve")
    with approval.wait_for_approval(timeout=20) as task:
        assert [d["actions"] for d in task.granted] == [["export"]]
        assert broker.introspect(resource_client, task.token())["active"] is True
        grant_id = task.grant_id
    decider.join(5)
    status, grant = broker.admin("GET", f"/admin/grants/{grant_id}")
    assert status == 200 and grant["status"] == "revoked", grant


def test_wait_for_approval_option_polls_inside_the_with(broker: Broker) -> None:
    creds, client = exporter(broker)
    broker.decide_when_pending(creds["client_id"], "approve")
    with client.task(EXPORT, wait_for_approval=True, approval_timeout=20) as task:
        assert task.granted[0]["actions"] == ["export"]


def test_a_denied_approval_is_access_denied(broker: Broker) -> None:
    creds, client = exporter(broker)
    with pytest.raises(ApprovalRequired) as caught:
        client.task(EXPORT).start()
    broker.decide_when_pending(creds["client_id"], "deny")
    with pytest.raises(RequestRefused) as refused:
        caught.value.wait_for_approval(timeout=20)
    assert refused.value.error == "access_denied"


def test_polling_backs_off_by_five_seconds_on_slow_down(broker: Broker) -> None:
    creds = broker.create_client(kind="agent", groups=["exporters"])
    asked: list[float] = []

    def hurried_sleep(seconds: float) -> None:
        # Poll at once (too fast: the broker answers slow_down) until the SDK asks for a longer
        # wait; only then approve, and wait out the broker's interval.
        asked.append(seconds)
        if seconds > APPROVAL_INTERVAL_SEC:
            broker.decide_when_pending(creds["client_id"], "approve").join(10)
            time.sleep(APPROVAL_INTERVAL_SEC + 0.2)

    client = MandateClient(broker.url, creds["client_id"], creds["client_secret"], sleep=hurried_sleep)
    with pytest.raises(ApprovalRequired) as caught:
        client.task(EXPORT).start()
    with caught.value.wait_for_approval(timeout=20) as task:
        assert task.granted[0]["actions"] == ["export"]
    assert asked[0] == APPROVAL_INTERVAL_SEC
    assert asked[-1] == APPROVAL_INTERVAL_SEC + 5, asked


def test_wait_for_approval_gives_up_at_its_timeout(broker: Broker) -> None:
    _, client = exporter(broker)
    with pytest.raises(ApprovalRequired) as caught:
        client.task(EXPORT).start()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        caught.value.wait_for_approval(timeout=1.5)
    assert time.monotonic() - started < 5
