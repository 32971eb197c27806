"""The Django admin: tenants, tokens (issued here, the secret shown once), provisioned users and
groups.

Users and groups are read-only here: the IdP owns them, and an edit in the admin would be overwritten by
the next push. An admin may delete one.
"""

import json

from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from . import tokens
from .models import Group, Tenant, Token, User
from .storage import groups, users


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}


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


class ProvisionedAdmin(admin.ModelAdmin):
    """Read-only views of what an IdP provisioned; deletes go through the storage layer, so
    that the groups a deleted member belonged to move their version."""

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
    ]
    readonly_fields = fields

    @admin.display(description="SCIM document")
    def document(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, ensure_ascii=False))


@admin.register(Group)
class GroupAdmin(ProvisionedAdmin):
    store = groups
    list_display = ["display_name", "external_id", "tenant", "member_count", "last_modified"]
    list_filter = ["tenant"]
    search_fields = ["display_name", "external_id"]
    ordering = ["display_name"]
    show_full_result_count = False
    fields = ["id", "tenant", "display_name", "external_id", "version", "created", "last_modified"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members=Count("memberships"))

    @admin.display(description="members", ordering="members")
    def member_count(self, obj):
        return obj.members
