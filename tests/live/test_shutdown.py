"""Graceful shutdown (scimserver/server.py): on SIGTERM a write in flight finishes and is
answered; one still running when GRACEFUL_TIMEOUT ends is cut off, and is never half-applied.

The write is held in flight by a row lock this test takes on the user, so it is certainly
under way when the signal comes, and finishes when the test lets it."""

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


def patch_in_flight(url: str, secret: str, user_id: str) -> tuple[threading.Thread, list]:
    """Send a PATCH from a thread; return the thread and the list its outcome goes to."""
    outcome = []

    def send():
        body = patch_body({"op": "replace", "path": "nickName", "value": "Babs"})
        try:
            outcome.append(
                httpx2.patch(
                    f"{url}/scim/v2/Users/{user_id}",
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
