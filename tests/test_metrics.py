"""/metrics in process: off without METRICS_TOKEN, behind it otherwise (constant-time compare),
and the counters each request and each webhook delivery moves, labelled by route name, never
by raw path. (Several worker processes added up: tests/live/test_operations.py.)"""

import itertools
import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from provisioning.models import WebhookDelivery
from tests.conftest import patch_body, user_body
from tests.test_webhooks import add_endpoint, deliver, receiver  # noqa: F401 - fixtures

TOKEN = "metrics-secret-0123456789"


@pytest.fixture
def scrape(settings):
    """Return a function that scrapes /metrics and returns {(name, labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_without_a_token(db, settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "header", ["", f"Basic {TOKEN}", "Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
)
def test_metrics_ask_for_their_own_token(db, settings, header):
    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_a_scim_token_does_not_open_metrics(scim, settings):
    """A SCIM bearer token is not the metrics token."""
    settings.METRICS_TOKEN = TOKEN
    secret = scim.defaults["HTTP_AUTHORIZATION"]
    assert Client().get("/metrics", HTTP_AUTHORIZATION=secret).status_code == 401


def test_requests_are_counted_by_route_method_status_and_tenant(scim, scrape, caplog):
    before = scrape()
    with caplog.at_level(logging.INFO, logger="provisioning.requests"):
        user = scim.post("/Users", user_body("bjensen")).json()
        scim.get(f"/Users/{user['id']}")
        scim.get("/Users/no-such-id")
        scim.get("/Users", {"filter": "userName zz 1"})
        body = patch_body({"op": "add", "path": "nickName", "value": "B"})
        scim.patch(f"/Users/{user['id']}", body)
        Client().get("/scim/v2/Users")  # no token: no tenant
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "scim_requests_total"
    assert moved(requests, endpoint="scim:users", method="POST", status="201", tenant="acme") == 1
    assert moved(requests, endpoint="scim:user", method="GET", status="200", tenant="acme") == 1
    assert moved(requests, endpoint="scim:user", method="GET", status="404", tenant="acme") == 1
    assert moved(requests, endpoint="scim:users", method="GET", status="400", tenant="acme") == 1
    assert moved(requests, endpoint="scim:user", method="PATCH", status="200", tenant="acme") == 1
    assert moved(requests, endpoint="scim:users", method="GET", status="401", tenant="") == 1
    # No label holds a raw path (an id).
    assert not [key for key in after if user["id"] in str(key)]

    assert moved("scim_errors_total", status="400", scim_type="invalidFilter") == 1
    assert moved("scim_errors_total", status="404", scim_type="") == 1
    assert moved("scim_errors_total", status="401", scim_type="") == 1

    duration = "scim_request_duration_seconds"
    assert moved(f"{duration}_count", endpoint="scim:user", method="GET") == 2
    assert moved(f"{duration}_bucket", endpoint="scim:user", method="GET", le="+Inf") == 2
    assert moved(f"{duration}_sum", endpoint="scim:user", method="GET") > 0
    # The statements are those the request line logs.
    logged = [r.fields["sql"] for r in caplog.records if r.name == "provisioning.requests"]
    statements = "scim_request_sql_statements"
    assert moved(f"{statements}_sum", endpoint="scim:users") == logged[0] + logged[3] + logged[5]
    assert moved(f"{statements}_sum", endpoint="scim:user") == logged[1] + logged[2] + logged[4]
    assert moved(f"{statements}_count", endpoint="scim:user") == 3
    assert moved(f"{statements}_bucket", endpoint="scim:user", le="50.0") == 3


def test_an_unknown_method_is_one_label(scim, scrape):
    """A client cannot make up label values: any method outside HTTP's usual ones is OTHER."""
    before = scrape()
    scim.generic("BREW", "/scim/v2/Users")
    after = scrape()
    key = ("scim_requests_total", frozenset(
        {"endpoint": "scim:users", "method": "OTHER", "status": "405", "tenant": "acme"}.items()
    ))  # fmt: skip
    assert after[key] - before.get(key, 0) == 1


def test_webhook_backlog_and_deliveries(scim, scrape, receiver, add_endpoint, deliver):  # noqa: F811
    """The backlog is read from the outbox at scrape time; each attempt's outcome is counted."""
    add_endpoint(receiver.url)
    before = scrape()
    assert value(before, "scim_webhook_backlog_events") == 0
    assert value(before, "scim_webhook_backlog_oldest_seconds") == 0
    scim.post("/Users", user_body("alice"))
    scim.post("/Users", user_body("bob"))
    waiting = scrape()
    assert value(waiting, "scim_webhook_backlog_events") == 2
    assert value(waiting, "scim_webhook_backlog_oldest_seconds") > 0

    receiver.status = 503
    assert deliver() == 2  # both due once, both to be tried again later
    receiver.status = 204
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert deliver() == 2
    after = scrape()
    assert value(after, "scim_webhook_backlog_events") == 0

    def moved(outcome):
        name = "scim_webhook_deliveries_total"
        return value(after, name, outcome=outcome) - value(before, name, outcome=outcome)

    assert (moved("retry"), moved("delivered"), moved("failed")) == (2, 2, 0)


def test_the_statements_counted_are_those_run(scim, make_user, caplog, monkeypatch):
    """A request's statements, run on psycopg's connection by `statements.fetch` (only the
    statement counter watches), are counted as they are when each goes through Django's
    cursors (the query log of CaptureQueriesContext watches too)."""
    alice = make_user("alice")
    sends = [
        lambda: scim.get("/Users", {"filter": 'userName eq "alice"'}),
        lambda: scim.get(f"/Users/{alice['id']}"),
        lambda: scim.get("/ServiceProviderConfig"),
        # A new nickName each time: a PATCH that changes nothing writes nothing.
        lambda: scim.patch(
            f"/Users/{alice['id']}",
            patch_body({"op": "replace", "path": "nickName", "value": next(nicknames)}),
        ),
    ]
    nicknames = (f"A{i}" for i in itertools.count())
    straight = []
    execute = type(connection.connection).execute

    def spied(self, *args, **kwargs):
        straight.append(args[0])
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(type(connection.connection), "execute", spied)
    for send in sends:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="provisioning.requests"):
            send()
        (counted,) = [r.fields["sql"] for r in caplog.records if r.name == "provisioning.requests"]
        with CaptureQueriesContext(connection) as run:
            send()

        assert counted == len(run.captured_queries)
    assert straight, "no statement went straight to psycopg: the test tested nothing"
