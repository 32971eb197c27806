"""Two tests of tests/live/test_http_edges.py through PgBouncer: a revoked token is refused at
once by both instances, and a database outage, here PostgreSQL going away behind a PgBouncer
that stays up, so that the server meets PgBouncer's waits and errors instead of a dropped
connection; and the readiness probe in that outage. (The module's other tests are granian's
and Django's answers before any statement runs.)"""

import os
import time
from urllib.parse import urlsplit

import httpx2
import pytest
from django.db import connection

from tests.live.pgbouncer.conftest import pgbouncer
from tests.live.test_http_edges import (  # noqa: F401 - the tests themselves, collected again here
    Cable,
    test_database_outage_is_503_then_recovers,
    test_revocation_holds_on_the_next_request_on_every_worker,
)

pytestmark = pytest.mark.live


@pytest.fixture
def server_through_cable(live_client, app_server):
    """A server through a PgBouncer of its own (the deployment's pgbouncer.ini), whose
    connections to PostgreSQL run through a `Cable`."""
    cable = Cable(urlsplit(os.environ["DATABASE_URL"]))
    database = f"postgresql://{connection.settings_dict['USER']}@127.0.0.1:{cable.port}/"
    try:
        with (
            pgbouncer(database + connection.settings_dict["NAME"]) as url,
            app_server(url, workers=1) as (base, _),
        ):
            yield base, cable
    finally:
        cable.cut()


def test_ready_says_unavailable_while_postgresql_behind_pgbouncer_is_down(server_through_cable):
    """/health/ready is a 503 with Retry-After once PgBouncer gives up waiting for a server
    connection (its query_wait_timeout, not the default two minutes), and 200 again once
    PostgreSQL is back."""
    base, cable = server_through_cable
    assert httpx2.get(f"{base}/health/ready").status_code == 200

    cable.cut()
    ready = httpx2.get(f"{base}/health/ready", timeout=60)
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    assert ready.headers["Retry-After"] == "5"

    cable.mend()
    deadline = time.monotonic() + 10
    while httpx2.get(f"{base}/health/ready", timeout=60).status_code != 200:
        assert time.monotonic() < deadline, "the server did not become ready again"
        time.sleep(0.2)
