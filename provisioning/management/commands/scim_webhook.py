"""Webhook endpoints: `add` (the signing secret is printed once), `list`, `remove`; and `run`,
the worker that delivers the outbox's events."""

import signal
import threading
from concurrent.futures import ThreadPoolExecutor

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from ... import metrics, signing, webhooks
from ...events import check_patterns
from ...models import DEFAULT_TENANT_SLUG, Tenant, WebhookEndpoint


def parse_events(value: str) -> list[str]:
    """Return the event types or patterns of a comma-separated list, each checked."""
    try:
        return check_patterns(value.split(","))
    except ValueError as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = "Add, list and remove webhook endpoints, or run the worker that delivers events."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add an endpoint and print its signing secret once.")
        add.add_argument("--tenant", default=DEFAULT_TENANT_SLUG, help="Tenant slug.")
        add.add_argument("--url", required=True, help="Where events are POSTed.")
        add.add_argument(
            "--events", default="user.*,group.*", help="Comma-separated event types or patterns."
        )
        listing = sub.add_parser("list", help="List endpoints (never their secrets).")
        listing.add_argument("--tenant", help="Only this tenant's endpoints.")
        remove = sub.add_parser("remove", help="Remove an endpoint and its pending deliveries.")
        remove.add_argument("id", type=int)
        run = sub.add_parser("run", help="Deliver events until stopped (SIGTERM or SIGINT).")
        run.add_argument("--batch-size", type=int, default=100, help="Events claimed at once.")
        run.add_argument("--concurrency", type=int, default=8, help="Events sent side by side.")
        run.add_argument(
            "--poll-interval", type=float, default=0.5, help="Seconds to wait when idle."
        )
        run.add_argument(
            "--metrics-port",
            type=int,
            help="Serve /metrics (deliveries, backlog) on this port, behind METRICS_TOKEN.",
        )
        run.add_argument(
            "--metrics-host", default="127.0.0.1", help="Address to serve /metrics on."
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_add(self, tenant, url, events, **_):
        try:
            owner = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant '{tenant}'.") from None
        secret = signing.generate_secret()
        endpoint = WebhookEndpoint(
            tenant=owner, url=url, events=parse_events(events), secret=signing.encrypt(secret)
        )
        try:
            endpoint.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        endpoint.save()
        self.stderr.write(
            f"Endpoint {endpoint.pk} added for tenant '{owner.slug}'. Copy its signing secret "
            "below now: it will not be shown again."
        )
        self.stdout.write(secret)

    def handle_list(self, tenant, **_):
        endpoints = WebhookEndpoint.objects.select_related("tenant").order_by("pk")
        if tenant:
            endpoints = endpoints.filter(tenant__slug=tenant)
        endpoints = endpoints.annotate(
            pending=Count("deliveries", filter=Q(deliveries__status="pending")),
            failed=Count("deliveries", filter=Q(deliveries__status="failed")),
        )
        for endpoint in endpoints:
            self.stdout.write(
                f"{endpoint.pk}  tenant={endpoint.tenant.slug}  url={endpoint.url}  "
                f"events={','.join(endpoint.events)}  pending={endpoint.pending}  "
                f"failed={endpoint.failed}"
            )

    def handle_remove(self, id, **_):
        deleted, _ = WebhookEndpoint.objects.filter(pk=id).delete()
        if not deleted:
            raise CommandError(f"No endpoint {id}.")
        self.stdout.write(f"Endpoint {id} removed.")

    def handle_run(self, batch_size, concurrency, poll_interval, metrics_port, metrics_host, **_):
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        if metrics_port is not None:
            metrics.serve_in_thread(metrics_host, metrics_port)
        http = webhooks.http_pool(concurrency)
        self.stderr.write("Delivering webhook events.")
        with ThreadPoolExecutor(concurrency, thread_name_prefix="webhook") as executor:
            while not stopping.is_set():
                sent = webhooks.deliver_batch(http, batch_size, executor)
                if sent < batch_size:
                    stopping.wait(poll_interval)
        self.stderr.write("Stopped.")
