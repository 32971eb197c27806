"""The Django admin: tenants, tokens (issued here, the secret shown once) and provisioned users.

Users are read-only here: the IdP owns them, and an edit in the admin would be overwritten by
the next push. An admin may delete one.
"""

import json

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from . import tokens
from .models import Tenant, Token, User


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


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="SCIM document")
    def document(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.data, indent=2, ensure_ascii=False))
