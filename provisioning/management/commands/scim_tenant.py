"""Manage tenants (IdP connections): `create`, `list`, and `set` a tenant's rate limit and
OAuth 2.0 access-token settings."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ... import ratelimit
from ...models import Tenant


class Command(BaseCommand):
    help = "Create, list and configure tenants: one per IdP connection."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant.")
        create.add_argument("slug", help="Short name used in commands and logs, e.g. 'okta'.")
        create.add_argument("--name", default="", help="Human-readable name (default: the slug).")
        sub.add_parser("list", help="List tenants and their settings.")
        change = sub.add_parser("set", help="Change a tenant's settings.")
        change.add_argument("slug")
        change.add_argument(
            "--rate-limit",
            metavar="N/s[,BURST]|off",
            help="Requests per second, on average, and at once after a pause (default: N).",
        )
        change.add_argument("--oauth-issuer", metavar="URL", help="Accept JWTs from this `iss`.")
        change.add_argument("--oauth-audience", metavar="AUD", help="The `aud` they must carry.")
        change.add_argument(
            "--oauth-jwks-uri",
            metavar="URL",
            help="The issuer's keys (default: from its metadata); '' to discover again.",
        )
        change.add_argument(
            "--oauth-scope",
            metavar="SCOPE",
            help="A scope or app role they must carry; '' for none.",
        )
        change.add_argument(
            "--oauth-client-id", metavar="ID", help="The client they must be issued to; '' for any."
        )
        change.add_argument(
            "--no-oauth", action="store_true", help="Accept static bearer tokens only."
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, slug, name, **_):
        tenant = Tenant(slug=slug, name=name or slug)
        self.save(tenant)
        self.stdout.write(f"Tenant '{tenant.slug}' created.")

    def handle_list(self, **_):
        for tenant in Tenant.objects.all():
            self.stdout.write(describe(tenant))

    def handle_set(self, slug, rate_limit, no_oauth, **options):
        try:
            tenant = Tenant.objects.get(slug=slug)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant '{slug}'.") from None
        if rate_limit is not None:
            try:
                tenant.rate_limit, tenant.rate_limit_burst = ratelimit.parse(rate_limit)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if no_oauth:
            for field in OAUTH_FIELDS:
                setattr(tenant, field, "")
        for field in OAUTH_FIELDS:
            if options[field] is not None:
                setattr(tenant, field, options[field])
        self.save(tenant)
        self.stdout.write(describe(tenant))

    def save(self, tenant: Tenant) -> None:
        """Validate the tenant as the admin does (fields, OAuth settings, uniqueness); save."""
        try:
            tenant.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
            ) from None
        tenant.save()


OAUTH_FIELDS = (
    "oauth_issuer",
    "oauth_audience",
    "oauth_jwks_uri",
    "oauth_scope",
    "oauth_client_id",
)


def describe(tenant: Tenant) -> str:
    """Return one line of the tenant's settings."""
    line = f"{tenant.slug}  name={tenant.name}  rate_limit={ratelimit.describe(tenant)}"
    if tenant.oauth_issuer:
        line += (
            f"  oauth_issuer={tenant.oauth_issuer}  oauth_audience={tenant.oauth_audience}"
            f"  oauth_jwks_uri={tenant.oauth_jwks_uri or '(discovered)'}"
            f"  oauth_scope={tenant.oauth_scope or '-'}"
            f"  oauth_client_id={tenant.oauth_client_id or '-'}"
        )
    else:
        line += "  oauth=off"
    return line
