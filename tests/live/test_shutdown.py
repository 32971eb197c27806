"""Graceful shutdown (scimserver/server.py): on SIGTERM a write in flight finishes and is
answered; one still running when GRACEFUL_TIMEOUT ends is cut off, and is never half-applied.
SIGTERM comes to the main process alone (as `docker stop` sends it to the container's first
process) or to every process of the server at once (as systemd sends it to a service's
processes); either way every process exits.

The write is held in flight by a row lock this test takes on the user, so it is certainly
under way when the signal comes, and finishes when the test lets it."""

import os
import signal
import threading
import time
from contextlib import contextmanager

import httpx2
import psycopg
import pytest
from django.db import connection

from provisioning import tokens
from provisioning.models import ChangeRecord, User
from tests.conftest import live_database_url, patch_body, user_body

pytestmark = pytest.mark.live


@contextmanager
def row_locked(user_id: str):
    """Hold the user's row lock from a connection of the test's own until the block ends."""
    with psycopg.connect(live_database_url()) as locker:
        locker.execute(f"SELECT 1 FROM {User._meta.db_table} WHERE id = %s FOR UPDATE", [user_id])
        yield
        locker.rollback()


def wait_until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def backends_waiting_for_a_lock() -> list[int]:
    """Return the process ids of the test database's backends that wait for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [pid for (pid,) in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def in_flight(method: str, url: str, body: dict, secret: str) -> tuple[threading.Thread, list]:
    """Send a request from a thread; return the thread and the list its outcome (the
    response, or the error) goes to."""
    outcome = []

    def send():
        try:
            outcome.append(
                httpx2.request(
                    method,
                    url,
                    json=body,
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=60,
                )
            )
        except httpx2.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    return thread, outcome


def patch_in_flight(url: str, secret: str, user_id: str) -> tuple[threading.Thread, list]:
    """Send a PATCH from a thread; return the thread and the list its outcome goes to."""
    body = patch_body({"op": "replace", "path": "nickName", "value": "Babs"})
    return in_flight("PATCH", f"{url}/scim/v2/Users/{user_id}", body, secret)


@pytest.fixture
def secret(transactional_db, tenant) -> str:
    """A token of the tenant, committed for the server to see."""
    return tokens.issue(tenant, name="live")[1]


def create_user(url: str, secret: str) -> str:
    created = httpx2.post(
        f"{url}/scim/v2/Users",
        json=user_body("bjensen"),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert created.status_code == 201
    return created.json()["id"]


def test_a_write_in_flight_at_sigterm_finishes_and_is_answered(secret, app_server):
    with app_server(workers=1) as (url, process):
        user_id = create_user(url, secret)
        with row_locked(user_id):
            thread, outcome = patch_in_flight(url, secret, user_id)
            wait_until(lambda: len(backends_waiting_for_a_lock()) == 1, "the PATCH waits")
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the signal reaches the worker while the PATCH still waits
            assert process.poll() is None and not outcome
        thread.join(30)
        (response,) = outcome
        assert response.status_code == 200, response.text
        assert response.json()["nickName"] == "Babs"
        assert process.wait(30) == 0
    stored = User.objects.get(pk=user_id)
    assert (stored.data["nickName"], stored.version) == ("Babs", 2)
    assert ChangeRecord.objects.filter(resource_id=user_id).count() == 2


def test_a_write_cut_off_after_the_grace_period_is_never_half_applied(secret, app_server):
    """A user's PATCH writes its row and its change record in one statement (outside any
    transaction of its own). Cut off while that statement waits for the row lock, it is
    either applied whole or not at all; here it has reached PostgreSQL, which finishes it
    when the lock is released, though nobody waits for the answer any more."""
    with app_server(workers=1, env={"GRACEFUL_TIMEOUT": "1"}) as (url, process):
        user_id = create_user(url, secret)
        with row_locked(user_id):
            thread, outcome = patch_in_flight(url, secret, user_id)
            wait_until(lambda: len(backends_waiting_for_a_lock()) == 1, "the PATCH waits")
            (backend,) = backends_waiting_for_a_lock()
            process.send_signal(signal.SIGTERM)
            process.wait(30)  # the worker is killed after 1 s, the PATCH unanswered
            thread.join(30)
            assert isinstance(outcome[0], httpx2.HTTPError)
        # Released, the server's backend finishes the statement, then finds its client gone.
        wait_until(lambda: not backend_alive(backend), "the killed worker's backend ends")
    stored = User.objects.get(pk=user_id)
    assert (stored.data.get("nickName"), stored.version) == ("Babs", 2)
    assert ChangeRecord.objects.filter(resource_id=user_id).count() == 2


BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CREATED = 50


def bulk_in_flight(url: str, secret: str, user_id: str) -> tuple[threading.Thread, list]:
    """Send from a thread a Bulk request of CREATED user creations then a PATCH of the user
    (which waits while the test holds its row); return the thread and its outcome's list."""
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_body(f"bulk-{i}")}
        for i in range(CREATED)
    ]
    operations.append(
        {
            "method": "PATCH",
            "path": f"/Users/{user_id}",
            "data": patch_body({"op": "replace", "path": "nickName", "value": "Babs"}),
        }
    )
    body = {"schemas": [BULK_REQUEST], "Operations": operations}
    return in_flight("POST", f"{url}/scim/v2/Bulk", body, secret)


def serving(log_path, workers: int) -> None:
    """Wait until each of the server's workers serves (granian logs it at INFO): a worker
    still starting has not yet set its own handler of SIGTERM (README, "Graceful shutdown")."""
    wait_until(
        lambda: all(f"Started worker-{i}" in log_path.read_text() for i in range(1, workers + 1)),
        "every worker serves",
    )


def group_gone(group: int) -> bool:
    """Return whether no process is left in the process group `group`."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_to_every_process_lets_a_bulk_in_flight_finish(secret, app_server, tmp_path):
    """SIGTERM to the main process and both workers at once, while a Bulk request waits in
    its transaction, 50 users created and a PATCH to go: the Bulk finishes and is answered
    with every operation, and every process of the server exits."""
    log_path = tmp_path / "server.log"
    with (
        log_path.open("w") as log,
        app_server(env={"LOG_LEVEL": "INFO"}, log=log, own_group=True) as (url, process),
    ):
        serving(log_path, workers=2)
        user_id = create_user(url, secret)
        with row_locked(user_id):
            thread, outcome = bulk_in_flight(url, secret, user_id)
            wait_until(lambda: len(backends_waiting_for_a_lock()) == 1, "the Bulk waits")
            os.killpg(process.pid, signal.SIGTERM)
            time.sleep(0.5)  # the signal reaches every process while the Bulk still waits
            assert process.poll() is None and not outcome
        thread.join(30)
        (response,) = outcome
        assert response.status_code == 200, response.text
        statuses = [operation["status"] for operation in response.json()["Operations"]]
        assert statuses == ["201"] * CREATED + ["200"]
        assert process.wait(30) == 0
        wait_until(lambda: group_gone(process.pid), "every process of the server exits")
    assert User.objects.filter(user_name__startswith="bulk-").count() == CREATED
    assert User.objects.get(pk=user_id).data["nickName"] == "Babs"


def test_a_bulk_cut_off_after_the_grace_period_applies_nothing(secret, app_server, tmp_path):
    """A Bulk request is one transaction (provisioning/bulk.py): cut off with its worker when
    GRACEFUL_TIMEOUT ends, 50 users created and its PATCH waiting, it leaves nothing, and
    every process of the server exits."""
    log_path = tmp_path / "server.log"
    env = {"LOG_LEVEL": "INFO", "GRACEFUL_TIMEOUT": "1"}
    with (
        log_path.open("w") as log,
        app_server(env=env, log=log, own_group=True) as (url, process),
    ):
        serving(log_path, workers=2)
        user_id = create_user(url, secret)
        with row_locked(user_id):
            thread, outcome = bulk_in_flight(url, secret, user_id)
            wait_until(lambda: len(backends_waiting_for_a_lock()) == 1, "the Bulk waits")
            (backend,) = backends_waiting_for_a_lock()
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)  # the busy worker is killed after 1 s, the Bulk unanswered
            wait_until(lambda: group_gone(process.pid), "every process of the server exits")
            thread.join(30)
            assert isinstance(outcome[0], httpx2.HTTPError)
        # Released, the backend runs the PATCH, then finds its client gone before any COMMIT.
        wait_until(lambda: not backend_alive(backend), "the killed worker's backend ends")
    assert not User.objects.filter(user_name__startswith="bulk-").exists()
    stored = User.objects.get(pk=user_id)
    assert (stored.data.get("nickName"), stored.version) == (None, 1)
