"""Webhook delivery: claim due events from the outbox, POST them signed, record the outcome.

At least once: an event's row leaves `pending` only in the transaction that records its
successful delivery (or that gives up on it). Rows are claimed with `SELECT ... FOR UPDATE
SKIP LOCKED` and stay locked while they are sent, so a worker that dies mid-batch simply
releases them (its transaction is rolled back) and they are sent again; several workers
never send the same row at once.

In order per resource: a row is claimed only when no earlier row of the same resource is
pending at the same endpoint, so a later change never overtakes an earlier one, even while
that one waits for a retry. A row that has failed for good no longer holds the others back.
"""

import dataclasses
import datetime as dt
import json
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import urllib3
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import app_settings, metrics, signing
from .models import WebhookDelivery
from .scim.resource import format_datetime

logger = logging.getLogger(__name__)

PENDING = WebhookDelivery.Status.PENDING
# How much of a receiver's answer is kept: enough to tell what went wrong, no more.
EXCERPT_BYTES = 200
USER_AGENT = "scimserver-webhooks/1"


@dataclasses.dataclass
class Outcome:
    """What one attempt gave: the HTTP status (None when there was no answer) and an excerpt
    of the answer's body or the error."""

    status: int | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body(delivery: WebhookDelivery) -> bytes:
    """Return the JSON body of a delivery's event; the same bytes on every attempt."""
    event = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "timestamp": format_datetime(delivery.created),
        "tenant": delivery.tenant.slug,
        "data": delivery.data,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def http_pool(concurrency: int) -> urllib3.PoolManager:
    """Return the HTTP client: no retries of its own, no redirects followed (a receiver cannot
    send events elsewhere), the configured timeout, no proxy from the environment."""
    timeout = app_settings.get("WEBHOOK_TIMEOUT_SECONDS")
    return urllib3.PoolManager(
        num_pools=100,
        maxsize=concurrency,
        retries=False,
        timeout=urllib3.Timeout(total=timeout),
        headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
    )


def send(http: urllib3.PoolManager, delivery: WebhookDelivery, secret: str) -> Outcome:
    """POST the delivery's event to its endpoint, signed; return what came of it."""
    content = body(delivery)
    message_id = str(delivery.event_id)
    timestamp = int(timezone.now().timestamp())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(secret, message_id, timestamp, content),
    }
    try:
        response = http.request(
            "POST",
            delivery.endpoint.url,
            body=content,
            headers=headers,
            redirect=False,
            preload_content=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:EXCERPT_BYTES])
    try:
        excerpt = response.read(EXCERPT_BYTES + 1, decode_content=False)
    except urllib3.exceptions.HTTPError as exc:
        excerpt = f"{type(exc).__name__}: {exc}".encode()
    if len(excerpt) > EXCERPT_BYTES:
        response.close()  # the rest is not read; the connection cannot be reused
    response.release_conn()
    return Outcome(response.status, excerpt[:EXCERPT_BYTES].decode(errors="replace"))


def backoff(attempts: int) -> dt.timedelta:
    """Return the wait before the next attempt after `attempts` failed ones: it doubles each
    time from WEBHOOK_BACKOFF_SECONDS, up to WEBHOOK_MAX_BACKOFF_SECONDS."""
    base = app_settings.get("WEBHOOK_BACKOFF_SECONDS")
    most = app_settings.get("WEBHOOK_MAX_BACKOFF_SECONDS")
    return dt.timedelta(seconds=min(base * 2 ** min(attempts - 1, 40), most))


def due(limit: int):
    """Return the rows to send now, locked: pending, due, and first of their resource at their
    endpoint; rows another worker holds are skipped."""
    earlier = WebhookDelivery.objects.filter(
        status=PENDING,
        endpoint_id=OuterRef("endpoint_id"),
        resource_id=OuterRef("resource_id"),
        id__lt=OuterRef("id"),
    )
    return (
        WebhookDelivery.objects.filter(status=PENDING, next_attempt_at__lte=timezone.now())
        .exclude(Exists(earlier))
        .order_by("id")
        .select_for_update(of=("self",), skip_locked=True)
        .select_related("endpoint", "tenant")[:limit]
    )


def deliver_batch(http: urllib3.PoolManager, limit: int, executor: ThreadPoolExecutor) -> int:
    """Send one batch of due events, side by side (they are of different resources), and
    record the outcomes; return how many were sent."""
    with transaction.atomic():
        batch = list(due(limit))
        if not batch:
            return 0
        secrets = {}
        for delivery in batch:
            if delivery.endpoint_id not in secrets:
                secrets[delivery.endpoint_id] = signing.decrypt(delivery.endpoint.secret)
        outcomes = list(executor.map(lambda d: send(http, d, secrets[d.endpoint_id]), batch))
        _record(batch, outcomes)
    return len(batch)


def _record(batch: list[WebhookDelivery], outcomes: list[Outcome]) -> None:
    """Record each attempt's outcome: delivered, due again later, or given up when the next
    attempt would come after WEBHOOK_RETRY_FOR_SECONDS.

    Rows with the same outcome are updated together, so a batch that went well costs one
    UPDATE (Django's bulk_update costs more CPU than the deliveries themselves).
    """
    now = timezone.now()
    give_up_after = dt.timedelta(seconds=app_settings.get("WEBHOOK_RETRY_FOR_SECONDS"))
    alike: dict[tuple, list[int]] = defaultdict(list)
    for delivery, outcome in zip(batch, outcomes, strict=True):
        attempts = delivery.attempts + 1
        values = {"attempts": attempts, "last_status": outcome.status}
        if outcome.ok:
            values.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, last_error="")
            metrics.observe_delivery("delivered")
        else:
            values.update(next_attempt_at=now + backoff(attempts), last_error=outcome.detail)
            if values["next_attempt_at"] - delivery.created <= give_up_after:
                metrics.observe_delivery("retry")
            else:
                metrics.observe_delivery("failed")
                values["status"] = WebhookDelivery.Status.FAILED
                logger.warning(
                    "Giving up on event %s to endpoint %s after %s attempts: %s",
                    delivery.event_id,
                    delivery.endpoint_id,
                    attempts,
                    outcome.status or outcome.detail,
                )
        alike[tuple(values.items())].append(delivery.pk)
    for values, pks in alike.items():
        WebhookDelivery.objects.filter(pk__in=pks).update(**dict(values))


def retry(deliveries) -> int:
    """Put failed deliveries back in the queue, due now; return how many."""
    return deliveries.filter(status=WebhookDelivery.Status.FAILED).update(
        status=PENDING, next_attempt_at=timezone.now()
    )
