from django.contrib import admin, messages

from api import services
from api.models import ApiToken
from audit.admin_base import AuditedModelAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    """Staff can see and revoke tokens; secrets are never stored, so none can be shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # created by their owner on the tokens page, where the secret is shown

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays as a record

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(token=token, user=request.user, source="admin")
        messages.success(request, f"Revoked {queryset.count()} token(s).")
