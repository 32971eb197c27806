"""The Django admin, where an operator runs provisioning: connections (one per IdP, each with
its SCIM base URL and tokens, the secret shown once), the users and groups they provisioned
with their groups, members, SCIM documents and history, the change records, and webhook
endpoints (the signing secret shown once) and deliveries (failed ones retried here).

Users and groups are read-only here: the IdP owns them, and an edit in the admin would be
overwritten by the next push. An admin may delete one; the delete is recorded, and the page
says that the IdP may send the person again.

Staff users see only the connections they operate (`Tenant.operators`): every list, page,
filter choice and form here is narrowed to those; superusers see all.
"""

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import model_ngettext
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.db.models.lookups import Contains
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from . import signing, tokens, views, webhooks
from .events import check_patterns
from .models import (
    ChangeRecord,
    Group,
    Membership,
    Tenant,
    Token,
    User,
    UserValue,
    WebhookDelivery,
    WebhookEndpoint,
)
from .scim.changes import MEMBERS
from .scim.projection import Projection
from .scim.schema import USER_RESOURCE_TYPE, Index
from .storage import groups, users
from .storage.store import Store

admin.site.site_header = "scimserver"
admin.site.site_title = "scimserver"
admin.site.index_title = "Provisioning"
# The lists here are wide (users, tokens, change records): at 1280 px the navigation column
# would leave them too little room. Every page links home, which lists every model.
admin.site.enable_nav_sidebar = False

# Rows per page of a group's members and of a resource's history on its own page.
MEMBERS_PER_PAGE = 50
HISTORY_ON_PAGE = 20
# The group filter of the users list offers this many groups; any group's page links to the
# list of its members, which is the same filter.
GROUP_CHOICES = 100
# What the admin's search looks in: the attributes the schema table gives a trigram index on
# lower(column) (`Index.SUBSTRING`). A single-valued one is searched in its column; a
# multi-valued one (emails) in its UserValue rows, which have one too, by their key
# (`urn:name` for an extension's, as `Mirror.path` joins).
_SEARCHED = [m for m in USER_RESOURCE_TYPE.mirrors if Index.SUBSTRING in m.attribute.indexes]
SEARCHED_USER_COLUMNS = tuple(m.column for m in _SEARCHED if not m.attribute.multi_valued)
SEARCHED_USER_VALUES = tuple(":".join(m.path) for m in _SEARCHED if m.attribute.multi_valued)


# --- Which connections a staff user sees -------------------------------------------------------


def connections(request):
    """Return the connections `request.user` may see: all for a superuser, else those they
    operate."""
    if request.user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(operators=request.user)


class ConnectionScoped:
    """A ModelAdmin mixin that narrows everything to the connections the user may see.

    `tenant_field` is the lookup from the model to its connection. An object of another
    connection is a 404, whatever the URL (change, delete, history, revoke).
    """

    tenant_field = "tenant"
    list_select_related = ["tenant"]

    @admin.display(description="connection", ordering="tenant__name")
    def connection(self, obj):
        return obj.tenant.name

    def get_readonly_fields(self, request, obj=None):
        # Fields list "connection" where a record's tenant is shown and never edited.
        return [*super().get_readonly_fields(request, obj), "connection"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = connections(request).values("pk")
        return queryset.filter(**{f"{self.tenant_field}__in": visible})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object, or not in a connection you operate.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Tenant:
            kwargs["queryset"] = connections(request)
            kwargs["label"] = "Connection"
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ConnectionFilter(admin.SimpleListFilter):
    """Filter by connection, offering only the connections the user may see."""

    title = "connection"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        return [(tenant.pk, tenant.name) for tenant in connections(request)]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if not self.value().isdigit():
            # Django's admin answers this with its "invalid filter" page, as for any
            # parameter it cannot apply.
            raise IncorrectLookupParameters(f"No connection '{self.value()}'.")
        return queryset.filter(tenant_id=self.value())


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


# --- Connections and their tokens --------------------------------------------------------------


@admin.register(Tenant)
class TenantAdmin(ConnectionScoped, admin.ModelAdmin):
    """A connection: one IdP, its tokens, and what it provisioned.

    Per-connection settings go in the "Settings" fieldset (`SETTINGS`).
    """

    tenant_field = "pk"
    list_select_related = []
    list_display = ["name", "slug", "dialect", "created"]
    list_filter = ["dialect"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["operators"]
    readonly_fields = ["created", "user_count", "group_count"]
    change_form_template = "admin/provisioning/tenant/change_form.html"
    # Fields of the connection that change how it is served.
    SETTINGS = [
        "slug",
        "dialect",
        "rate_limit",
        "rate_limit_burst",
        "oauth_issuer",
        "oauth_audience",
        "oauth_jwks_uri",
        "oauth_scope",
        "oauth_client_id",
    ]
    # The issuer and key URLs of OAuth 2.0 (provisioning.oauth) are https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["name"]}),
            ("Settings", {"fields": self.SETTINGS}),
        ]
        if obj is not None:
            fieldsets.append(("Provisioned", {"fields": ["user_count", "group_count", "created"]}))
        if request.user.is_superuser:
            fieldsets.append(
                (
                    "Access",
                    {"fields": ["operators"], "description": "Superusers see every connection."},
                )
            )
        return fieldsets

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "operators":
            kwargs["queryset"] = db_field.related_model.objects.filter(is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description="users")
    def user_count(self, obj):
        return User.objects.filter(tenant=obj).count()

    @admin.display(description="groups")
    def group_count(self, obj):
        return Group.objects.filter(tenant=obj).count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and not request.user.is_superuser:
            # A staff user who adds a connection operates it, or they could not see it.
            obj.operators.add(request.user)

    def get_deleted_objects(self, objs, request):
        """Count what a connection's delete takes with it, rather than list every user,
        membership and change record (a page of millions of lines for a large one)."""
        objs = list(objs)
        summary, perms_needed = {model_ngettext(self.opts, len(objs)): len(objs)}, set()
        for model in (User, Group, Token, ChangeRecord, WebhookEndpoint):
            count = model.objects.filter(tenant__in=objs).count()
            if count:
                summary[model_ngettext(model._meta, count)] = count
                codename = f"{model._meta.app_label}.delete_{model._meta.model_name}"
                if not request.user.has_perm(codename):
                    perms_needed.add(model._meta.verbose_name_plural)
        return [str(obj) for obj in objs], summary, perms_needed, []

    def response_add(self, request, obj, post_url_continue=None):
        """Show the new connection's SCIM base URL and its first token, once."""
        token, secret = tokens.issue(obj, name="initial")
        self.log_addition(request, token, [{"added": {}}])
        context = {
            **self.admin_site.each_context(request),
            "title": "Connection created",
            "connection": obj,
            "token": token,
            "secret": secret,
            "base_url": views.base_url(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/provisioning/tenant/created.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        now = timezone.now()
        extra_context = {
            **(extra_context or {}),
            "base_url": views.base_url(request),
            "tokens": [
                (token, token_status(token, now)) for token in obj.tokens.order_by("-created")
            ],
            "endpoints": obj.webhook_endpoints.order_by("created"),
        }
        return super().change_view(request, object_id, form_url, extra_context)


def token_status(token: Token, now=None) -> str:
    """Return "active", "expired" or "revoked"."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or timezone.now()):
        return "expired"
    return "active"


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        conditions = {
            "active": Q(revoked_at__isnull=True) & unexpired,
            "expired": Q(revoked_at__isnull=True) & ~unexpired,
            "revoked": Q(revoked_at__isnull=False),
        }
        if self.value() not in conditions:
            return queryset
        return queryset.filter(conditions[self.value()])


@admin.register(Token)
class TokenAdmin(ConnectionScoped, admin.ModelAdmin):
    """Tokens: issued here (the secret shown once), revoked here (a button on the token's page,
    or the list action). A revocation is an admin action on an admin object, so it is recorded
    as the admin records its actions (a LogEntry, on the token's History page); change records
    are the history of provisioned users and groups."""

    list_display = [
        "name",
        "prefix",
        "connection",
        "status",
        "created",
        "expires_at",
        "last_used_at",
    ]
    list_filter = [ConnectionFilter, TokenStatusFilter]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    change_form_template = "admin/provisioning/token/change_form.html"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "expires_at"]
        return [
            "connection",
            "name",
            "prefix",
            "status",
            "created",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A token stays with the connection it was issued for.
        return ["connection", "prefix", "status", "created", "last_used_at", "revoked_at"]

    @admin.display(description="status")
    def status(self, obj):
        status = token_status(obj)
        return format_html('<span class="status-{}">{}</span>', status, status)

    def get_urls(self):
        revoke = self.admin_site.admin_view(require_POST(self.revoke_view))
        return [
            path("<path:object_id>/revoke/", revoke, name="provisioning_token_revoke"),
            *super().get_urls(),
        ]

    def revoke_view(self, request, object_id):
        token = self.get_object(request, object_id)
        if not self.has_change_permission(request, token):
            raise PermissionDenied
        if token.revoked_at is None:
            tokens.revoke(token)
            self.log_change(request, token, "Revoked.")
            self.message_user(request, f"The token {token} is revoked.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:provisioning_token_change", args=[token.pk]))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, secret = tokens.issue(obj.tenant, obj.name, obj.expires_at)
        obj.pk = token.pk
        # Kept on the instance only for response_add, which shows it once; never stored.
        obj.secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Token created",
            "token": obj,
            "secret": obj.secret,
            "base_url": views.base_url(request),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/provisioning/token/created.html", context)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            tokens.revoke(token)
            self.log_change(request, token, "Revoked.")
            revoked += 1
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


# --- Users and groups --------------------------------------------------------------------------


class GroupFilter(admin.SimpleListFilter):
    """Users who are direct members of a group."""

    title = "group"
    parameter_name = "group"

    def lookups(self, request, model_admin):
        visible = Group.objects.filter(tenant__in=connections(request).values("pk"))
        return [
            (str(pk), name)
            for pk, name in visible.order_by("display_name").values_list("pk", "display_name")[
                :GROUP_CHOICES
            ]
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        members = Membership.objects.filter(group_id=self.value(), user__isnull=False)
        return queryset.filter(pk__in=members.values("user_id"))


def user_search(term: str) -> Q:
    """Return the condition "`term` is in the userName, a name, the externalId or any email",
    case-insensitively (the attributes of SEARCHED_USER_COLUMNS and SEARCHED_USER_VALUES).

    Each part is a LIKE on an expression with a trigram index, and the parts are a UNION of
    ids rather than an OR, so each is an index scan (tests/storage/test_query_plans.py).
    """
    pattern = term.lower()
    parts = [
        User.objects.filter(Contains(Lower(column), pattern)).values("pk")
        for column in SEARCHED_USER_COLUMNS
    ]
    parts += [
        UserValue.objects.filter(
            Contains(Lower(KT("element__value")), pattern), attribute=attribute
        ).values("user_id")
        for attribute in SEARCHED_USER_VALUES
    ]
    return Q(pk__in=parts[0].union(*parts[1:]))


class ProvisionedAdmin(ConnectionScoped, admin.ModelAdmin):
    """Read-only views of what an IdP provisioned; deletes go through the storage layer, so
    that the groups a deleted member belonged to move their version and the delete is
    recorded under the admin's name."""

    store: Store | None = None
    delete_confirmation_template = "admin/provisioning/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/provisioning/delete_selected_confirmation.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_deleted_objects(self, objs, request):
        """List what is deleted without collecting every membership row, which for a large
        group would be a page of 100,000 lines; the rows go with their resource."""
        objs = list(objs)
        return (
            [str(obj) for obj in objs],
            {model_ngettext(self.opts, len(objs)): len(objs)},
            set(),
            [],
        )

    def delete_model(self, request, obj):
        self.store.delete(obj.tenant, str(obj.pk))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def history_context(self, obj) -> dict:
        records = ChangeRecord.objects.filter(tenant_id=obj.tenant_id, resource_id=obj.pk)
        latest_first = records.select_related("tenant").order_by("-created", "-id")
        latest = list(latest_first[:HISTORY_ON_PAGE])
        query = urlencode({"tenant": obj.tenant_id, "resource_id": obj.pk})
        return {
            "history": [history_row(record) for record in latest],
            "history_total": records.count() if len(latest) == HISTORY_ON_PAGE else len(latest),
            "history_url": f"{reverse('admin:provisioning_changerecord_changelist')}?{query}",
        }


def history_row(record: ChangeRecord) -> dict:
    """Return a change record as a row of a history table: per changed attribute, its value
    before and after; for members, the ids added and removed."""
    changes = []
    for attribute, change in record.changes.items():
        if attribute == MEMBERS:
            changes.append(
                {
                    "attribute": attribute,
                    "before": f"removed {len(change['removed'])}: "
                    + ", ".join(change["removed"][:5]),
                    "after": f"added {len(change['added'])}: " + ", ".join(change["added"][:5]),
                }
            )
            continue
        changes.append(
            {
                "attribute": attribute,
                "before": _shown(change.get("before")),
                "after": _shown(change.get("after")),
            }
        )
    return {"record": record, "changes": changes}


def _shown(value) -> str:
    return "" if value is None else json.dumps(value, indent=1, ensure_ascii=False)


@admin.register(User)
class UserAdmin(ProvisionedAdmin):
    store = users
    list_display = [
        "user_name",
        "display_name",
        "email",
        "active",
        "external_id",
        "connection",
        "last_modified",
    ]
    list_filter = [ConnectionFilter, GroupFilter, "active", "last_modified"]
    search_fields = SEARCHED_USER_COLUMNS
    search_help_text = (
        "userName, any email, name, displayName, externalId or employeeNumber (contains)"
    )
    # The order of the unique index on (tenant, lower(userName)): a page of 100,000 users is
    # an index scan, not a sort.
    ordering = [F("tenant_id"), Lower("user_name")]
    show_full_result_count = False
    change_form_template = "admin/provisioning/user/change_form.html"
    fields = [
        "id",
        "connection",
        "user_name",
        "external_id",
        "display_name",
        "given_name",
        "family_name",
        "email",
        "active",
        "version",
        "created",
        "last_modified",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        for term in search_term.split():
            queryset = queryset.filter(user_search(term))
        return queryset, False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        user = self.get_object(request, object_id)
        projection = Projection.from_params(USER_RESOURCE_TYPE, None, None)
        related = users.related(user.tenant, [user], projection.needs)
        # What GET /Users/{id} answers, rendered by the API's own code.
        (document,) = views.render_many(
            request, USER_RESOURCE_TYPE, users, [user], projection, related
        )
        extra_context = {
            **(extra_context or {}),
            **self.history_context(user),
            "groups": related.get(user.pk, {}).get(users.GROUPS.name, []),
            "document": json.dumps(document, indent=2, ensure_ascii=False),
        }
        return super().change_view(request, object_id, form_url, extra_context)


class GroupChangeList(ChangeList):
    """The groups list, with each listed group's member count: counted for the page's rows
    only, and never on a group's own page, which must not count 100,000 members to open."""

    def get_queryset(self, request, exclude_parameters=None):
        count = (
            Membership.objects.filter(group=OuterRef("pk"))
            .order_by()
            .values("group")
            .annotate(n=Count("*"))
            .values("n")
        )
        return super().get_queryset(request, exclude_parameters).annotate(members=Subquery(count))


@admin.register(Group)
class GroupAdmin(ProvisionedAdmin):
    store = groups
    list_display = ["display_name", "external_id", "connection", "member_count", "last_modified"]
    list_filter = [ConnectionFilter, "last_modified"]
    search_fields = ["display_name", "external_id"]
    # The order of the unique index on (tenant, lower(displayName)).
    ordering = [F("tenant_id"), Lower("display_name")]
    show_full_result_count = False
    change_form_template = "admin/provisioning/group/change_form.html"
    fields = [
        "id",
        "connection",
        "display_name",
        "external_id",
        "version",
        "created",
        "last_modified",
    ]
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return GroupChangeList

    @admin.display(description="members")
    def member_count(self, obj):
        return obj.members or 0

    def change_view(self, request, object_id, form_url="", extra_context=None):
        group = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            **self.history_context(group),
            **members_page(group, request.GET.get("members_after")),
        }
        return super().change_view(request, object_id, form_url, extra_context)


def members_page(group: Group, after: str | None) -> dict:
    """Return the context of one page of a group's members, those after the membership
    `after` (a page costs the same whatever the group's size: storage.groups.members_page)."""
    after = int(after) if after is not None and after.isdigit() else None
    page = groups.members_page(group, after, MEMBERS_PER_PAGE + 1)
    more = len(page) > MEMBERS_PER_PAGE
    page = page[:MEMBERS_PER_PAGE]
    return {
        "members": [member for _, member in page],
        "members_first": after is not None,
        "members_next": page[-1][0] if more else None,
        "members_users_url": f"{reverse('admin:provisioning_user_changelist')}?group={group.pk}",
    }


# --- Change records and webhooks ---------------------------------------------------------------


class ReadOnlyAdmin(ConnectionScoped, admin.ModelAdmin):
    """A record to read, never to add, change or delete by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TokenFilter(admin.SimpleListFilter):
    """Changes made with one token, among the tokens of the connections the user may see."""

    title = "token"
    parameter_name = "token"

    def lookups(self, request, model_admin):
        visible = Token.objects.filter(tenant__in=connections(request).values("pk"))
        return [(token.prefix, str(token)) for token in visible.order_by("name", "prefix")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(token_prefix=self.value())


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created",
        "connection",
        "operation",
        "resource_type",
        "resource",
        "actor",
        "client_ip",
    ]
    list_filter = [ConnectionFilter, "resource_type", "operation", TokenFilter, "created"]
    search_fields = ["name", "external_id", "request_id", "token_prefix", "admin_user"]
    ordering = ["-created", "-id"]
    show_full_result_count = False
    fields = [
        "created",
        "connection",
        "actor",
        "request_id",
        "client_ip",
        "user_agent",
        "operation",
        "resource_type",
        "resource",
        "external_id",
        "version",
        "what_changed",
    ]
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        # The link from a user's or group's page: the records of one resource.
        return lookup == "resource_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="resource")
    def resource(self, obj):
        name = "user" if obj.resource_type == "User" else "group"
        if obj.operation == ChangeRecord.Operation.DELETE:
            return obj.name or str(obj.resource_id)
        url = reverse(f"admin:provisioning_{name}_change", args=[obj.resource_id])
        return format_html('<a href="{}">{}</a>', url, obj.name or obj.resource_id)

    @admin.display(description="changes")
    def what_changed(self, obj):
        return pretty_json(obj.changes)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        max_length=2000, assume_scheme="https", help_text="Where events are POSTed."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "events"]
        help_texts = {"events": "Comma-separated, e.g. user.*,group.*"}

    def clean_events(self):
        try:
            return check_patterns(self.cleaned_data["events"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ConnectionScoped, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "connection", "events_list", "deliveries", "created"]
    list_filter = [ConnectionFilter]

    def get_changeform_initial_data(self, request):
        return {"events": "user.*,group.*", **super().get_changeform_initial_data(request)}

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "url", "events"]
        # An endpoint receives one connection's events, as a token acts for one connection.
        return ["connection", "url", "events"]

    @admin.display(description="events")
    def events_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="deliveries")
    def deliveries(self, obj):
        url = reverse("admin:provisioning_webhookdelivery_changelist")
        links = [
            format_html(
                '<a href="{}?{}">{}</a>',
                url,
                urlencode({"endpoint": obj.pk, "status__exact": status}),
                status,
            )
            for status in ("pending", "failed")
        ]
        return format_html("{} · {}", *links)

    def save_model(self, request, obj, form, change):
        if not change:
            # Kept on the instance only for response_add, which shows it once.
            obj.new_secret = signing.generate_secret()
            obj.secret = signing.encrypt(obj.new_secret)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook endpoint added",
            "endpoint": obj,
            "secret": obj.new_secret,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/provisioning/webhookendpoint/created.html", context)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created",
        "connection",
        "endpoint",
        "event_type",
        "resource_id",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
    ]
    list_filter = ["status", ConnectionFilter, "event_type"]
    search_fields = ["event_id", "resource_id"]
    ordering = ["-id"]
    show_full_result_count = False
    actions = ["retry"]
    fields = [
        "event_id",
        "event_type",
        "connection",
        "endpoint",
        "resource_id",
        "created",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status",
        "last_error",
        "event_data",
    ]
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        # The links from an endpoint's row: its pending or failed deliveries.
        return lookup == "endpoint" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="data")
    def event_data(self, obj):
        return pretty_json(obj.data)

    @admin.action(description="Retry the selected failed deliveries")
    def retry(self, request, queryset):
        retried = webhooks.retry(queryset)
        self.message_user(
            request, f"{retried} failed delivery(ies) queued again.", messages.SUCCESS
        )
