"""Tenants, one per IdP connection: `create`, `list`, and `set` a connection's settings (its
dialect, rate limit and OAuth 2.0 access-token settings), validated as the admin validates them."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from ... import ratelimit
from ...models import Group, Tenant, Token, User
from ...scim.dialect import Dialect

DIALECTS = [dialect.value for dialect in Dialect]
OAUTH_FIELDS = (
    "oauth_issuer",
    "oauth_audience",
    "oauth_jwks_uri",
    "oauth_scope",
    "oauth_client_id",
)


class Command(BaseCommand):
    help = "Create, list and configure tenants: one tenant is one IdP connection."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant.")
        create.add_argument("slug", help="Short name, used by the other commands and in logs.")
        create.add_argument("--name", help="Human-readable name (default: the slug).")
        add_dialect(create)
        sub.add_parser("list", help="List tenants with their settings and what they hold.")
        change = sub.add_parser("set", help="Change a tenant's settings.")
        change.add_argument("slug")
        add_dialect(change)
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

    def handle_create(self, slug, name, dialect, **_):
        tenant = Tenant(slug=slug, name=name or slug)
        if dialect is not None:
            tenant.dialect = dialect
        self.save(tenant, validate_unique=True)
        self.stdout.write(f"Tenant '{tenant.slug}' created: {describe(tenant)}.")

    def handle_list(self, **_):
        counts = {
            model: dict(model.objects.values_list("tenant").annotate(n=Count("*")).order_by())
            for model in (User, Group, Token)
        }
        for tenant in Tenant.objects.all():
            users, groups, tokens = (counts[model].get(tenant.pk, 0) for model in counts)
            self.stdout.write(
                f"{tenant.slug}  name={tenant.name}  {describe(tenant)}  "
                f"users={users}  groups={groups}  tokens={tokens}"
            )

    def handle_set(self, slug, dialect, rate_limit, no_oauth, **options):
        try:
            tenant = Tenant.objects.get(slug=slug)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant '{slug}'.") from None
        oauth = {field: options[field] for field in OAUTH_FIELDS if options[field] is not None}
        if dialect is None and rate_limit is None and not no_oauth and not oauth:
            raise CommandError("Nothing to set: give a setting, e.g. --dialect rfc.")
        if dialect is not None:
            tenant.dialect = dialect
        if rate_limit is not None:
            try:
                tenant.rate_limit, tenant.rate_limit_burst = ratelimit.parse(rate_limit)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        if no_oauth:
            for field in OAUTH_FIELDS:
                setattr(tenant, field, "")
        for field, value in oauth.items():
            setattr(tenant, field, value)
        self.save(tenant)
        self.stdout.write(f"Tenant '{tenant.slug}': {describe(tenant)}.")

    @staticmethod
    def save(tenant: Tenant, validate_unique: bool = False) -> None:
        """Validate `tenant` as the admin would (fields, OAuth settings, uniqueness); save it."""
        try:
            tenant.full_clean(validate_unique=validate_unique)
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(problems) from None
        tenant.save()


def add_dialect(parser) -> None:
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        help="Which IdP departures from RFC 7644 to accept: rfc (none), okta, entra, or "
        "auto (recognise the IdP from its requests; the default). See the README.",
    )


def describe(tenant: Tenant) -> str:
    """Return a tenant's settings as `name=value` pairs."""
    line = f"dialect={tenant.dialect}  rate_limit={ratelimit.describe(tenant)}"
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
