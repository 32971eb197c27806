"""The webhook worker as it runs in production, a process of its own (`scim_webhook run`),
delivering to a real local HTTP receiver: a receiver outage, then a worker killed in the
middle of a batch; no event is lost and each resource's events arrive in order."""

import os
import signal
import subprocess
import sys
import time

import pytest

from provisioning.models import WebhookDelivery
from tests.conftest import ROOT, patch_body, user_body
from tests.receiver import Receiver
from tests.test_webhooks import run

pytestmark = pytest.mark.live


@pytest.fixture
def start_worker(transactional_db, app_database_url, app_env):
    """Return a function that starts a worker process on the test database; every worker
    still running at the end is stopped."""
    env = {
        **os.environ,
        **app_env,
        "DATABASE_URL": app_database_url,
        "SCIM_WEBHOOK_BACKOFF_SECONDS": "0.1",
        "SCIM_WEBHOOK_MAX_BACKOFF_SECONDS": "0.4",
        "LOG_LEVEL": "WARNING",
    }
    workers = []

    def start(*args: str) -> subprocess.Popen:
        command = [sys.executable, "manage.py", "scim_webhook", "run", "--poll-interval", "0.05"]
        worker = subprocess.Popen([*command, *args], cwd=ROOT, env=env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def make_changes(scim, users: int, patches: int) -> None:
    """Create `users` users and PATCH each `patches` times, interleaved."""
    ids = [scim.post("/Users", user_body(f"user{i}")).json()["id"] for i in range(users)]
    for n in range(patches):
        for user_id in ids:
            operation = {"op": "replace", "path": "nickName", "value": f"n{n}"}
            assert scim.patch(f"/Users/{user_id}", patch_body(operation)).status_code == 200


def assert_all_arrived_in_order(receiver: Receiver) -> None:
    """Every event of the outbox arrived; per resource, in the order of its changes (a
    redelivery may repeat events, which receivers drop by their webhook-id)."""
    expected: dict[str, list[str]] = {}
    for resource_id, event_id in WebhookDelivery.objects.order_by("id").values_list(
        "resource_id", "event_id"
    ):
        expected.setdefault(str(resource_id), []).append(str(event_id))
    arrived: dict[str, list[str]] = {}
    for event in receiver.events():
        seen = arrived.setdefault(event["data"]["id"], [])
        if event["id"] not in seen:
            seen.append(event["id"])
    assert arrived == expected


def test_a_receiver_down_gets_every_event_in_order_when_it_comes_back(
    scim, tenant, receiver, start_worker
):
    """While the receiver is down, deliveries fail and are retried with backoff; once it is
    back, it receives every event, each resource's in order."""
    run("add", "--tenant", tenant.slug, "--url", receiver.url)
    receiver.stop()
    start_worker()
    make_changes(scim, users=5, patches=3)
    deadline = time.monotonic() + 10
    while not WebhookDelivery.objects.filter(attempts__gte=2).exists():
        assert time.monotonic() < deadline, "the worker never retried"
        time.sleep(0.05)
    assert not WebhookDelivery.objects.exclude(status="pending").exists()

    receiver.start()
    receiver.wait_for(lambda: not WebhookDelivery.objects.filter(status="pending").exists())

    assert_all_arrived_in_order(receiver)
    assert len(receiver.received) == 20


def test_a_worker_killed_mid_delivery_loses_nothing(scim, tenant, receiver, start_worker):
    """SIGKILL in the middle of a batch: its rows were never marked delivered, so a new
    worker sends them again; nothing is lost, and order per resource holds."""
    run("add", "--tenant", tenant.slug, "--url", receiver.url)
    make_changes(scim, users=10, patches=9)
    receiver.delay = 0.01
    worker = start_worker("--batch-size", "20", "--concurrency", "2")
    receiver.wait_for(lambda: len(receiver.received) >= 25)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert 25 <= len(receiver.received) < 100

    start_worker()
    receiver.wait_for(lambda: not WebhookDelivery.objects.filter(status="pending").exists())

    assert_all_arrived_in_order(receiver)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 100
