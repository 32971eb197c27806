"""Rows: tenants, their bearer tokens, and the identities they provision.

Every identity row carries its tenant, and every uniqueness rule is per tenant and enforced by a
database constraint, so concurrent creates cannot slip past a check. A row that names another
row of its tenant does so by a foreign key that includes the tenant (`SameTenant`), so the
database refuses a row that would link two tenants. Each resource keeps its whole SCIM
document in `data` (jsonb) so every attribute round-trips exactly, and mirrors the attributes
IdPs match and sort on into indexed columns.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.utils import timezone

from .constraints import SameTenant
from .scim.dialect import Dialect
from .scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE, USER_SCHEMA, Rows
from .storage import mirrors

DEFAULT_TENANT_SLUG = "default"

# Multi-valued User attributes whose `value` has a maximum length, so it fits a btree index.
INDEXED_VALUE_ATTRIBUTES = sorted(
    attr.name
    for attr in USER_SCHEMA.attributes
    if attr.rows is Rows.VALUES and (value := attr.sub_attribute("value")) and value.max_length
)


class Tenant(models.Model):
    """One IdP connection: it owns its tokens and everything provisioned through them, and
    may limit its request rate (`provisioning.ratelimit`) and accept OAuth 2.0 access tokens
    (`provisioning.oauth`)."""

    slug = models.SlugField(unique=True, help_text="Short name used in commands and logs.")
    name = models.CharField(max_length=200, help_text="Human-readable name of the connection.")
    dialect = models.CharField(
        max_length=8,
        choices=[(d.value, d.value) for d in Dialect],
        default=Dialect.AUTO.value,
        help_text=(
            "Which IdP departures from RFC 7644 this connection accepts: rfc (none), okta, "
            "entra, or auto (recognise the IdP from its requests); see the README."
        ),
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    rate_limit = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.001)],
        help_text="Requests per second this connection may send, on average. Empty: no limit.",
    )
    rate_limit_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Requests it may send at once after a pause. Empty: one second's worth.",
    )
    oauth_issuer = models.URLField(
        max_length=500,
        blank=True,
        help_text="Accept OAuth 2.0 access tokens (JWTs) whose `iss` is exactly this. "
        "Empty: static bearer tokens only.",
    )
    oauth_audience = models.CharField(
        max_length=500, blank=True, help_text="The `aud` the access tokens must carry."
    )
    oauth_jwks_uri = models.URLField(
        max_length=500,
        blank=True,
        help_text="Where the issuer publishes its signing keys. Empty: found in the issuer's "
        "metadata (/.well-known/openid-configuration).",
    )
    oauth_scope = models.CharField(
        max_length=200,
        blank=True,
        help_text="A scope (`scope`, `scp`) or app role (`roles`) the tokens must carry.",
    )
    oauth_client_id = models.CharField(
        max_length=200,
        blank=True,
        help_text="The client the tokens must be issued to (`client_id`, `cid`, `azp`, `appid`).",
    )
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="scim_connections",
        help_text="Staff users who see this connection in the admin. Superusers see all.",
    )

    class Meta:
        verbose_name = "connection"
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dialect__in=[d.value for d in Dialect]),
                name="provisioning_tenant_dialect_known",
            ),
            # A token is matched to its tenant by issuer and audience (provisioning.oauth).
            models.UniqueConstraint(
                fields=["oauth_issuer", "oauth_audience"],
                condition=~models.Q(oauth_issuer=""),
                name="provisioning_tenant_oauth_once",
                violation_error_message="Another tenant accepts the tokens of this issuer "
                "for this audience.",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        from .oauth import check_settings

        check_settings(self)


class Token(models.Model):
    """A bearer token of a tenant, stored only as a SHA-256 digest of its secret."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=200, blank=True, help_text="What the token is for.")
    prefix = models.CharField(
        max_length=16,
        editable=False,
        help_text="The first characters of the secret, to tell tokens apart.",
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this instant the token is refused. Empty: never."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        """Return whether the token is neither revoked nor expired."""
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class RateLimitBucket(models.Model):
    """A tenant's rate-limit state, shared by every worker and instance: the instant its
    bucket would be full again (GCRA's theoretical arrival time; `provisioning.ratelimit`).

    The table is UNLOGGED (migration 0010): the state is rewritten by most requests of a
    limited tenant and is worth no WAL; after a crash it starts empty, i.e. with full buckets.
    """

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tat = models.FloatField(help_text="Seconds since the epoch, PostgreSQL's clock.")
    taken = models.PositiveIntegerField(help_text="Requests the last process to ask took.")
    seen = models.FloatField(
        default=0,
        help_text="The latest instant a statement measured the bucket at (seconds since the "
        "epoch): no later statement measures it earlier.",
    )

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.tat}"


class ProvisionedResource(models.Model):
    """What every provisioned resource has: a server-assigned id, its tenant, its SCIM
    document, and the version and times that `meta` reports."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index of a resource leads with the tenant.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="%(class)ss", db_index=False
    )
    external_id = models.TextField(null=True, blank=True, help_text="externalId, as sent.")
    data = models.JSONField(
        default=dict, help_text="The SCIM document, without id, meta and what is kept as rows."
    )
    version = models.PositiveBigIntegerField(
        default=1, help_text="Grows by one with every change; meta.version is derived from it."
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    last_modified = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True


# The columns that mirror attributes (user_name, display_name, ...) and their indexes are the
# schema table's (`Attribute.column`, `Attribute.indexes`): `provisioning.storage.mirrors`.
class User(ProvisionedResource, mirrors.abstract_model(USER_RESOURCE_TYPE)):
    """A provisioned SCIM User (RFC 7643 §4.1, with the EnterpriseUser extension of §4.3)."""

    class Meta:
        verbose_name = "SCIM user"
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("user_name"), name="provisioning_user_username_ci_unique"
            ),
            # What the rows naming a user refer to (`SameTenant`).
            models.UniqueConstraint(fields=["tenant", "id"], name="provisioning_user_tenant_key"),
        ]
        indexes = [
            # The default list order (RFC 7644 §3.4.2.4 paging needs a stable one).
            models.Index(fields=["tenant", "created", "id"], name="prov_user_tenant_created"),
            *mirrors.indexes(USER_RESOURCE_TYPE, "prov_user"),
        ]

    def __str__(self) -> str:
        return self.user_name


class UserValue(models.Model):
    """One value of a User's multi-valued attribute (an email, a phone number, ...) as a row.

    The values stay in `User.data` too; these rows exist so that filters on them, such as
    Entra's `emails[type eq "work"].value eq "x"`, are index scans rather than document scans.
    """

    # No key of its own to the tenant: the key (tenant, user) below implies it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Its key in the database is (tenant, user): see Meta.constraints.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="values", db_constraint=False
    )
    attribute = models.TextField(help_text="The attribute's name, e.g. 'emails'.")
    position = models.PositiveIntegerField(help_text="The value's place in the attribute's list.")
    element = models.JSONField(help_text="The value: an object of sub-attributes.")

    class Meta:
        constraints = [SameTenant(field="user", name="provisioning_uservalue_user_tenant_fk")]
        indexes = [
            models.Index(fields=["user", "attribute", "position"], name="prov_uservalue_user"),
            # Only for attributes whose values have a bounded length (photos and certificates
            # can outgrow a btree entry); filters on the others scan the user's own rows.
            models.Index(
                "tenant",
                "attribute",
                Lower(KT("element__value")),
                name="prov_uservalue_value_ci",
                condition=models.Q(attribute__in=INDEXED_VALUE_ATTRIBUTES),
            ),
            GinIndex(
                OpClass(Lower(KT("element__value")), name="gin_trgm_ops"),
                name="prov_uservalue_value_trgm",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attribute}[{self.position}]"


class Group(ProvisionedResource, mirrors.abstract_model(GROUP_RESOURCE_TYPE)):
    """A provisioned SCIM Group (RFC 7643 §4.2). Its members are `Membership` rows, and a
    change of membership moves its version."""

    class Meta:
        verbose_name = "SCIM group"
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("display_name"), name="provisioning_group_displayname_ci_unique"
            ),
            # What the rows naming a group refer to (`SameTenant`).
            models.UniqueConstraint(fields=["tenant", "id"], name="provisioning_group_tenant_key"),
        ]
        indexes = [
            models.Index(fields=["tenant", "created", "id"], name="prov_group_tenant_created"),
            *mirrors.indexes(GROUP_RESOURCE_TYPE, "prov_group"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Membership(models.Model):
    """One member of a group: a User or a Group (nested), never both."""

    # No key of its own to the tenant: the key (tenant, group) below implies it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Indexed by (group, id) below, the order members are listed in. The keys of the group and
    # the member in the database include the tenant: see Meta.constraints.
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memberships",
        db_constraint=False,
    )
    member_group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="parent_memberships",
        db_constraint=False,
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True) ^ models.Q(member_group__isnull=True),
                name="provisioning_membership_one_member",
            ),
            SameTenant(field="group", name="provisioning_membership_group_tenant_fk"),
            SameTenant(field="user", name="provisioning_membership_user_tenant_fk"),
            SameTenant(field="member_group", name="provisioning_membership_member_tenant_fk"),
            # A member is in a group once: adding it again changes nothing.
            models.UniqueConstraint(
                fields=["tenant", "group", "user"],
                condition=models.Q(user__isnull=False),
                name="provisioning_membership_user_once",
            ),
            models.UniqueConstraint(
                fields=["tenant", "group", "member_group"],
                condition=models.Q(member_group__isnull=False),
                name="provisioning_membership_group_once",
            ),
        ]
        indexes = [models.Index(fields=["group", "id"], name="prov_membership_group")]

    def __str__(self) -> str:
        return f"{self.user_id or self.member_group_id} in {self.group_id}"


class ChangeRecord(models.Model):
    """One change of a User or Group, written in the transaction that made it; never updated.

    The actor is kept as text (token name and prefix, or the admin's username), so a record
    outlives the token or login that made it. A database trigger refuses UPDATEs.
    """

    class Operation(models.TextChoices):
        CREATE = "create"
        REPLACE = "replace"
        PATCH = "patch"
        DELETE = "delete"
        MEMBER_ADD = "member_add"
        MEMBER_REMOVE = "member_remove"

    # No foreign key in the database: a record is written in the statement of the write it
    # records, for the tenant of the row written, and PostgreSQL's check of each record's
    # tenant at COMMIT cost as much as writing the record (7 ms for the thousand records of a
    # Bulk of a thousand creates). Deleting a tenant still deletes its records: Django cascades,
    # and `changes.delete_left_behind` takes those of writes that commit during the cascade.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    token_name = models.CharField(max_length=200, blank=True, help_text="The token's name.")
    token_prefix = models.CharField(max_length=16, blank=True, help_text="The token's prefix.")
    admin_user = models.CharField(
        max_length=150, blank=True, help_text="The admin user, for a change made in the admin."
    )
    request_id = models.CharField(max_length=128, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    resource_type = models.CharField(max_length=16, help_text="User or Group.")
    resource_id = models.UUIDField()
    external_id = models.TextField(null=True, blank=True)
    name = models.TextField(blank=True, help_text="The userName or displayName.")
    version = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The resource's version after the change."
    )
    changes = models.JSONField(
        help_text="Per attribute path, its value before and after; members as ids added/removed."
    )

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "created", "id"], name="prov_change_tenant_created"),
            models.Index(
                fields=["tenant", "resource_id", "created"], name="prov_change_tenant_resource"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource_type} {self.name or self.resource_id}"

    @property
    def actor(self) -> str:
        """Return who made the change, as one line."""
        if self.token_prefix:
            return f"token {self.token_name or '-'} ({self.token_prefix}…)"
        if self.admin_user:
            return f"admin {self.admin_user}"
        return "system"


class WebhookEndpoint(models.Model):
    """A URL of a tenant's that receives its events, signed with the endpoint's own secret."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="webhook_endpoints", db_index=False
    )
    url = models.URLField(max_length=2000, help_text="Where events are POSTed; http or https.")
    events = ArrayField(
        models.CharField(max_length=64),
        default=list,
        help_text="Event types sent, e.g. user.created, or all of a kind: user.*, group.*.",
    )
    secret = models.TextField(
        editable=False,
        help_text="The signing secret, encrypted with a key derived from SECRET_KEY.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            # What its deliveries refer to (`SameTenant`).
            models.UniqueConstraint(fields=["tenant", "id"], name="provisioning_webhook_tenant_key")
        ]
        indexes = [models.Index(fields=["tenant", "created"], name="prov_webhook_tenant")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint: the outbox row, written in the transaction of
    the change, then claimed, sent and marked by the worker (`scim_webhook run`)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    # No key of its own to the tenant: the key (tenant, endpoint) below implies it.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Its key in the database is (tenant, endpoint): see Meta.constraints.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    event_id = models.UUIDField(help_text="The event's id: webhook-id, the same on every try.")
    event_type = models.CharField(max_length=64)
    resource_id = models.UUIDField()
    data = models.JSONField(help_text="The event's `data`: the resource and its new values.")
    created = models.DateTimeField(default=timezone.now, help_text="When the change was made.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last answer."
    )
    last_error = models.CharField(
        max_length=300, blank=True, help_text="The start of the last answer's body, or the error."
    )

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            SameTenant(field="endpoint", name="provisioning_delivery_endpoint_tenant_fk")
        ]
        indexes = [
            models.Index(fields=["tenant", "created"], name="prov_delivery_tenant"),
            models.Index(fields=["endpoint", "id"], name="prov_delivery_endpoint"),
            # The worker's queue: only rows still to deliver, whatever their tenant, in order.
            models.Index(
                fields=["id"], name="prov_delivery_pending", condition=models.Q(status="pending")
            ),
            # "Is an earlier event of this resource still pending at this endpoint?"
            models.Index(
                fields=["endpoint", "resource_id", "id"],
                name="prov_delivery_pending_resource",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class AuthUserLink(models.Model):
    """The `django.contrib.auth` user kept in step with a provisioned User
    (`SCIM_SYNC_AUTH_USERS`). It names the User by id, not by foreign key: when the IdP
    deletes the User, the login stays, locked, and linked to the id it had."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    resource_id = models.UUIDField(help_text="The provisioned User's id.")
    auth_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scim_link"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "resource_id"], name="provisioning_authuserlink_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} → {self.auth_user_id}"


class AuthGroupLink(models.Model):
    """The `django.contrib.auth` group kept in step with a provisioned Group
    (`SCIM_SYNC_AUTH_GROUPS`)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    resource_id = models.UUIDField(help_text="The provisioned Group's id.")
    auth_group = models.OneToOneField(
        "auth.Group", on_delete=models.CASCADE, related_name="scim_link"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "resource_id"], name="provisioning_authgrouplink_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} → {self.auth_group_id}"
