"""The Django admin: tenants, tokens (issued here, the secret shown once), provisioned users and
groups, their change records, webhook endpoints (the signing secret shown once) and
deliveries (failed ones retried here).

Users and groups are read-only here: the IdP owns them, and an edit in the admin would be overwritten by
the next push. An admin may delete one. Change records and deliveries are read-only too.
"""

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import signing, tokens, webhooks
from .events import check_patterns
from .models import (
    ChangeRecord,
    Group,
    Tenant,
    Token,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from .storage import groups, users


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "dialect", "created"]
    list_filter = ["dialect"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    # The issuer and key URLs of OAuth 2.0 (provisioning.oauth) are https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "tenant",
        "created",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "name", "expires_at"]
        return ["tenant", "name", "prefix", "created", "expires_at", "last_used_at", "revoked_at"]

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
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/provisioning/token/created.html", context)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


def pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class ProvisionedAdmin(admin.ModelAdmin):
    """Read-only views of what an IdP provisioned; deletes go through the storage layer, so
    that the groups a deleted member belonged to move their version and the delete is
    recorded."""

    store = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        self.store.delete(obj.tenant, str(obj.pk))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.display(description="history")
    def history(self, obj):
        url = reverse("admin:provisioning_changerecord_changelist")
        query = urlencode({"tenant__id__exact": obj.tenant_id, "resource_id": obj.pk})
        return format_html('<a href="{}?{}">Change records</a>', url, query)


@admin.register(User)
class UserAdmin(ProvisionedAdmin):
    store = users
    list_display = [
        "user_name",
        "display_name",
        "email",
        "active",
        "external_id",
        "tenant",
        "last_modified",
    ]
    list_filter = ["active", "tenant"]
    search_fields = ["user_name", "email", "external_id"]
    ordering = ["user_name"]
    show_full_result_count = False
    fields = [
        "id",
        "tenant",
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
        "document",
        "history",
    ]
    readonly_fields = fields

    @admin.display(description="SCIM document")
    def document(self, obj):
        return pretty_json(obj.data)


@admin.register(Group)
class GroupAdmin(ProvisionedAdmin):
    store = groups
    list_display = ["display_name", "external_id", "tenant", "member_count", "last_modified"]
    list_filter = ["tenant"]
    search_fields = ["display_name", "external_id"]
    ordering = ["display_name"]
    show_full_result_count = False
    fields = [
        "id",
        "tenant",
        "display_name",
        "external_id",
        "version",
        "created",
        "last_modified",
        "history",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members=Count("memberships"))

    @admin.display(description="members", ordering="members")
    def member_count(self, obj):
        return obj.members


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record to read, never to add, change or delete by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created",
        "tenant",
        "operation",
        "resource_type",
        "name",
        "actor",
        "client_ip",
        "request_id",
    ]
    list_filter = ["tenant", "operation", "resource_type"]
    search_fields = ["name", "external_id", "request_id", "token_prefix", "admin_user"]
    ordering = ["-created", "-id"]
    show_full_result_count = False
    fields = [
        "created",
        "tenant",
        "actor",
        "request_id",
        "client_ip",
        "user_agent",
        "operation",
        "resource_type",
        "resource_id",
        "external_id",
        "name",
        "version",
        "what_changed",
    ]
    readonly_fields = fields

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
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "tenant", "events_list", "created"]
    list_filter = ["tenant"]

    def get_changeform_initial_data(self, request):
        return {"events": "user.*,group.*"}

    @admin.display(description="events")
    def events_list(self, obj):
        return ", ".join(obj.events)

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
        "tenant",
        "endpoint",
        "event_type",
        "resource_id",
        "status",
        "attempts",
        "last_status",
        "next_attempt_at",
    ]
    list_filter = ["status", "tenant", "event_type"]
    search_fields = ["event_id", "resource_id"]
    ordering = ["-id"]
    show_full_result_count = False
    actions = ["retry"]
    fields = [
        "event_id",
        "event_type",
        "tenant",
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

    @admin.display(description="data")
    def event_data(self, obj):
        return pretty_json(obj.data)

    @admin.action(description="Retry the selected failed deliveries")
    def retry(self, request, queryset):
        retried = webhooks.retry(queryset)
        self.message_user(
            request, f"{retried} failed delivery(ies) queued again.", messages.SUCCESS
        )
