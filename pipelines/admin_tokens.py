"""Admin for API tokens and flag keys: create (shown once), list, revoke. Never edit."""

from django.contrib import admin, messages

from pipelines.flag_keys import create_flag_key, revoke_flag_key
from pipelines.models import ApiToken, FlagKey
from pipelines.tokens import create_token, revoke_token


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name"]
        return ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, raw = create_token(obj.user, name=obj.name, by=request.user)
        obj.pk, obj.prefix, obj.created_at = token.pk, token.prefix, token.created_at
        messages.warning(request, f"The new token is {raw} — copy it now: it is not shown again.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the audit log refers to tokens

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_token(token, by=request.user)
        self.message_user(request, "Revoked.")


@admin.register(FlagKey)
class FlagKeyAdmin(admin.ModelAdmin):
    """Flag keys (OFREP): made by `manage.py create_flag_key` or here, shown once; revoked."""

    list_display = ["prefix", "environment", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "environment__name", "environment__pipeline__name"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["environment", "name"]
        return ["prefix", "environment", "name", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = create_flag_key(obj.environment, name=obj.name, by=request.user)
        obj.pk, obj.prefix, obj.created_at = key.pk, key.prefix, key.created_at
        messages.warning(
            request, f"The new flag key is {raw} — copy it now: it is not shown again."
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the audit log refers to keys

    @admin.action(description="Revoke selected flag keys")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            revoke_flag_key(key, by=request.user)
        self.message_user(request, "Revoked.")
