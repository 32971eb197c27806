"""Two tests of tests/live/test_http_edges.py through PgBouncer: a revoked token is refused at
once by both instances, and a database outage, here PostgreSQL going away behind a PgBouncer
that stays up, so that the server meets PgBouncer's waits and errors instead of a dropped
connection. (The module's other tests are granian's and Django's answers before any
statement runs.)"""

import os
from urllib.parse import urlsplit

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
