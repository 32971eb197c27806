"""The health probes in process: /health/live and /health/ready answer without a token or a
known host, are not logged, and take only GET and HEAD. (A database that does not answer:
tests/live/test_operations.py.)"""

import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_a_probe_answers_ok_without_a_token_whatever_the_host(db, path, caplog):
    """A probe needs no credentials and comes to the container's address, which need not be
    in ALLOWED_HOSTS; it leaves no request line in the log."""
    with caplog.at_level(logging.DEBUG, logger="provisioning.requests"):
        response = Client().get(path, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"status": "ok"}
    assert not [r for r in caplog.records if r.name == "provisioning.requests"]


def test_ready_asks_the_database_within_its_timeout(db, django_assert_num_queries):
    """/health/ready runs `SELECT 1` under a statement_timeout set for its own transaction only
    (SET LOCAL, safe behind PgBouncer); /health/live touches no database."""
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/health/ready").status_code == 200
    # Savepoints stand for the transaction here: the test runs inside one of its own.
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert statements == ["SELECT set_config('statement_timeout', '2000', true)", "SELECT 1"]
    with django_assert_num_queries(0):
        assert Client().get("/health/live").status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_operations_paths_take_only_get_and_head(db, path):
    response = Client().post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert Client().head(path).status_code in (200, 404)
