"""Manage bearer tokens: `create`, `list`, `revoke`, and `bootstrap` from SCIM_BOOTSTRAP_TOKEN."""

import datetime as dt
import os

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ... import tokens
from ...models import DEFAULT_TENANT_SLUG, Tenant, Token


class Command(BaseCommand):
    help = "Create, list and revoke SCIM bearer tokens. A token's secret is shown only once."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token and print its secret once.")
        create.add_argument("--tenant", default=DEFAULT_TENANT_SLUG, help="Tenant slug.")
        create.add_argument("--name", default="", help="What the token is for, e.g. 'okta'.")
        create.add_argument("--expires-in-days", type=int, help="Expire after this many days.")
        listing = sub.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("--tenant", help="Only this tenant's tokens.")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix (see `list`).")
        revoke.add_argument("prefix")
        bootstrap = sub.add_parser(
            "bootstrap",
            help="Make the value of SCIM_BOOTSTRAP_TOKEN a valid token of the default tenant.",
        )
        bootstrap.add_argument(
            "--issue-when-none",
            action="store_true",
            help="Without SCIM_BOOTSTRAP_TOKEN: issue a token and print it once if there is "
            "no token at all yet (a first start), else do nothing.",
        )

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, tenant, name, expires_in_days, **_):
        try:
            owner = Tenant.objects.get(slug=tenant)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant '{tenant}'.") from None
        expires_at = None
        if expires_in_days is not None:
            expires_at = timezone.now() + dt.timedelta(days=expires_in_days)
        token, secret = tokens.issue(owner, name, expires_at)
        self.stderr.write(
            f"Token {token.prefix}… created for tenant '{owner.slug}'. "
            "Copy the secret below now: it is not stored and will not be shown again."
        )
        self.stdout.write(secret)

    def handle_list(self, tenant, **_):
        queryset = Token.objects.select_related("tenant")
        if tenant:
            queryset = queryset.filter(tenant__slug=tenant)
        now = timezone.now()
        for token in queryset:
            state = (
                "active" if token.is_usable(now) else ("revoked" if token.revoked_at else "expired")
            )
            self.stdout.write(
                f"{token.prefix}…  tenant={token.tenant.slug}  name={token.name or '-'}  "
                f"state={state}  created={token.created:%Y-%m-%d}  "
                f"last_used={token.last_used_at or '-'}"
            )

    def handle_revoke(self, prefix, **_):
        matches = list(Token.objects.filter(prefix__startswith=prefix.rstrip("…")))
        if len(matches) != 1:
            raise CommandError(f"{len(matches)} tokens match '{prefix}'; give a longer prefix.")
        tokens.revoke(matches[0])
        self.stdout.write(f"Token {matches[0].prefix}… revoked.")

    def handle_bootstrap(self, issue_when_none, **_):
        secret = os.environ.get("SCIM_BOOTSTRAP_TOKEN", "")
        if not secret and issue_when_none:
            self.issue_first()
            return
        if not secret:
            raise CommandError("SCIM_BOOTSTRAP_TOKEN is not set.")
        try:
            token = tokens.ensure_secret(tokens.default_tenant(), secret, name="bootstrap")
        except tokens.RefusedSecret as exc:
            raise CommandError(f"SCIM_BOOTSTRAP_TOKEN refused: {exc}.") from None
        self.stdout.write(
            f"Bootstrap token {token.prefix}… is valid for tenant '{token.tenant.slug}'."
        )

    def issue_first(self):
        """Issue the default tenant's first token and print it, when there is no token yet."""
        if Token.objects.exists():
            self.stderr.write("Tokens exist already; none issued (scim_token create makes more).")
            return
        token, secret = tokens.issue(tokens.default_tenant(), name="bootstrap")
        self.stderr.write(
            f"First start: token {token.prefix}… issued for tenant '{token.tenant.slug}'. Copy "
            "the secret below now: it is not stored and will not be shown again."
        )
        self.stdout.write(secret)
