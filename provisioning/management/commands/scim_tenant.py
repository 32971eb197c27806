"""Tenants, one per IdP connection: `create`, `list`, and `set` a connection's settings."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from ...models import Group, Tenant, Token, User
from ...scim.dialect import Dialect

DIALECTS = [dialect.value for dialect in Dialect]
# The Tenant fields that `create` and `set` take as options (see `add_settings`).
SETTINGS = ("dialect",)


class Command(BaseCommand):
    help = "Create, list and configure tenants: one tenant is one IdP connection."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a tenant.")
        create.add_argument("slug", help="Short name, used by the other commands and in logs.")
        create.add_argument("--name", help="Human-readable name (default: the slug).")
        self.add_settings(create)
        sub.add_parser("list", help="List tenants with their settings and what they hold.")
        settings = sub.add_parser("set", help="Change a tenant's settings.")
        settings.add_argument("slug")
        self.add_settings(settings)

    @staticmethod
    def add_settings(parser):
        """Add the per-connection settings that `create` and `set` take, each optional."""
        parser.add_argument(
            "--dialect",
            choices=DIALECTS,
            help="Which IdP departures from RFC 7644 to accept: rfc (none), okta, entra, or "
            "auto (recognise the IdP from its requests; the default). See the README.",
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, slug, name, **options):
        tenant = Tenant(slug=slug, name=name or slug, **given(options))
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

    def handle_set(self, slug, **options):
        try:
            tenant = Tenant.objects.get(slug=slug)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant '{slug}'.") from None
        changes = given(options)
        if not changes:
            raise CommandError("Nothing to set: give a setting, e.g. --dialect rfc.")
        for field, value in changes.items():
            setattr(tenant, field, value)
        self.save(tenant)
        self.stdout.write(f"Tenant '{tenant.slug}': {describe(tenant)}.")

    @staticmethod
    def save(tenant: Tenant, validate_unique: bool = False) -> None:
        """Validate `tenant` as the admin would, then save it."""
        try:
            tenant.full_clean(validate_unique=validate_unique)
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(problems) from None
        tenant.save()


def given(options: dict) -> dict:
    """Return the settings among `options` that the command line gave."""
    return {field: options[field] for field in SETTINGS if options.get(field) is not None}


def describe(tenant: Tenant) -> str:
    """Return a tenant's settings as `name=value` pairs."""
    return "  ".join(f"{field}={getattr(tenant, field)}" for field in SETTINGS)
