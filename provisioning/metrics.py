"""Prometheus metrics: what each request and each webhook delivery records, and `/metrics`,
their text exposition, behind a bearer token of its own (METRICS_TOKEN).

prometheus_client is the official client library. granian serves with several worker
processes; in prometheus_client's multiprocess mode each process writes its values to files
under PROMETHEUS_MULTIPROC_DIR (scimserver/server.py sets the directory and empties it at
start) and a scrape adds them up, so any worker answers for all of them.

Labels are bounded: an endpoint is a route's name (`scim:user`), never a raw path; a method
outside HTTP's usual ones is `OTHER`; a tenant is the slug of an authenticated token's tenant.
"""

import datetime as dt
import hmac
import logging
import os
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer

logger = logging.getLogger(__name__)

METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))

REQUESTS = Counter(
    "scim_requests",
    "HTTP requests answered, by route name, method, status and tenant.",
    ["endpoint", "method", "status", "tenant"],
)
DURATION = Histogram(
    "scim_request_duration_seconds",
    "Time from the request reaching the application to its response (a streamed body's "
    "rest is sent later).",
    ["endpoint", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STATEMENTS = Histogram(
    "scim_request_sql_statements",
    "SQL statements run per request (those of a streamed body not included).",
    ["endpoint"],
    buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50),
)
ERRORS = Counter(
    "scim_errors",
    "SCIM error responses (RFC 7644 §3.12), by status and scimType (empty when none).",
    ["status", "scim_type"],
)
DELIVERIES = Counter(
    "scim_webhook_deliveries",
    "Webhook delivery attempts by the worker: delivered, retry (to be tried again) or failed "
    "(given up).",
    ["outcome"],
)

# Label children by their values: `labels()` checks and locks on every call, a dict does not.
_children: dict = {}


def _child(metric, *values):
    key = (metric, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def observe_request(
    endpoint: str, method: str, status: int, tenant: str, seconds: float, statements: int
) -> None:
    """Record one answered request."""
    if method not in METHODS:
        method = "OTHER"
    _child(REQUESTS, endpoint, method, status, tenant).inc()
    _child(DURATION, endpoint, method).observe(seconds)
    _child(STATEMENTS, endpoint).observe(statements)


def observe_error(status: int, scim_type: str | None) -> None:
    """Record one SCIM error response."""
    _child(ERRORS, status, scim_type or "").inc()


def observe_delivery(outcome: str) -> None:
    """Record one webhook delivery attempt's outcome."""
    _child(DELIVERIES, outcome).inc()


class WebhookBacklog:
    """The outbox read at scrape time: how many events wait for delivery, and for how long
    the oldest has waited. One query over the index of pending rows."""

    def collect(self):
        from .models import WebhookDelivery  # the models are ready only once Django is

        try:
            backlog = WebhookDelivery.objects.filter(
                status=WebhookDelivery.Status.PENDING
            ).aggregate(events=Count("id"), oldest=Min("created"))
        except DatabaseError as exc:
            logger.warning("The webhook backlog could not be read: %s", exc)
            return
        yield GaugeMetricFamily(
            "scim_webhook_backlog_events",
            "Webhook events not yet delivered (pending in the outbox).",
            value=backlog["events"],
        )
        oldest = backlog["oldest"]
        age = (timezone.now() - oldest) / dt.timedelta(seconds=1) if oldest else 0.0
        yield GaugeMetricFamily(
            "scim_webhook_backlog_oldest_seconds",
            "Age of the oldest event not yet delivered; 0 when none waits.",
            value=age,
        )


def registry() -> CollectorRegistry:
    """Return the registry to expose: every process's values in multiprocess mode, this
    process's otherwise, and the webhook backlog."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        exposed = CollectorRegistry()
        multiprocess.MultiProcessCollector(exposed)
    else:
        exposed = CollectorRegistry()
        exposed.register(_Process())
    exposed.register(WebhookBacklog())
    return exposed


class _Process:
    """This process's metrics, from the default registry (outside multiprocess mode)."""

    def collect(self):
        return REGISTRY.collect()


def authorized(header: str) -> bool:
    """Return whether an Authorization header carries METRICS_TOKEN as its bearer token,
    compared in constant time; never when METRICS_TOKEN is unset."""
    expected = settings.METRICS_TOKEN
    scheme, _, presented = header.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def view(request) -> HttpResponse:
    """`GET /metrics`: the Prometheus text format; 404 while METRICS_TOKEN is unset, 401
    without the token."""
    if not settings.METRICS_TOKEN:
        return HttpResponse(status=404)
    if not authorized(request.META.get("HTTP_AUTHORIZATION", "")):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        """Log nothing: scrapes come every few seconds."""


def serve_in_thread(host: str, port: int) -> ThreadingWSGIServer:
    """Serve `/metrics` of this process (the webhook worker) on `host:port` from a daemon
    thread, as the server does: behind METRICS_TOKEN, 404 while it is unset; return the
    server."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics" or not settings.METRICS_TOKEN:
            start_response("404 Not Found", [])
            return [b""]
        if not authorized(environ.get("HTTP_AUTHORIZATION", "")):
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [b""]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(registry())]

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
