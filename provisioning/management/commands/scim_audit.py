"""Change records: `prune` those older than the retention period, `export` them as JSON Lines."""

import datetime as dt
import heapq
import json

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from ... import app_settings
from ...models import ChangeRecord, Tenant

EXPORTED = (
    "id",
    "created",
    "tenant_id",
    "token_name",
    "token_prefix",
    "admin_user",
    "request_id",
    "client_ip",
    "user_agent",
    "operation",
    "resource_type",
    "resource_id",
    "external_id",
    "name",
    "version",
    "changes",
)


def parse_instant(value: str) -> dt.datetime:
    """Return the ISO 8601 instant `value`; one without an offset is taken as UTC."""
    try:
        instant = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not an ISO 8601 date or date-time.") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Prune old change records, or export change records as JSON Lines, oldest first."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "prune", help="Delete the records older than SCIM_AUDIT_RETENTION_DAYS days."
        )
        export = sub.add_parser("export", help="Write records as JSON Lines to stdout.")
        export.add_argument("--tenant", help="Only this tenant's records (its slug).")
        export.add_argument("--since", type=parse_instant, help="Records made at or after this.")
        export.add_argument("--until", type=parse_instant, help="Records made before this.")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_prune(self, **_):
        days = app_settings.get("AUDIT_RETENTION_DAYS")
        cutoff = timezone.now() - dt.timedelta(days=days)
        deleted = 0
        # Tenant by tenant: every index of the records leads with the tenant.
        for tenant_id in Tenant.objects.values_list("pk", flat=True):
            deleted += ChangeRecord.objects.filter(
                tenant_id=tenant_id, created__lt=cutoff
            ).delete()[0]
        self.stderr.write(f"{deleted} change record(s) older than {days} days deleted.")

    def handle_export(self, tenant, since, until, **_):
        tenants = Tenant.objects.all()
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant '{tenant}'.")
        slugs = dict(tenants.values_list("pk", "slug"))
        # One stream per tenant, each read in index order by a server-side cursor, merged by
        # time: memory stays constant however many records there are. The cursors live in one
        # transaction, so they need no WITH HOLD, which PgBouncer's transaction mode breaks.
        with transaction.atomic():
            streams = [self._records(tenant_id, since, until) for tenant_id in slugs]
            write = self.stdout.write
            for row in heapq.merge(*streams, key=lambda row: (row["created"], row["id"])):
                row["tenant"] = slugs[row.pop("tenant_id")]
                write(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))

    @staticmethod
    def _records(tenant_id, since, until):
        records = ChangeRecord.objects.filter(tenant_id=tenant_id)
        if since:
            records = records.filter(created__gte=since)
        if until:
            records = records.filter(created__lt=until)
        return records.order_by("created", "id").values(*EXPORTED).iterator(chunk_size=2000)
