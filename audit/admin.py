from django.contrib import admin

from audit.admin_base import AuditedModelAdmin
from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(AuditedModelAdmin):
    """Read-only: the log is written by Slipway's services, never by hand."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "target_label",
        "environment",
        "result",
        "source",
    ]
    list_filter = ["result", "source", "environment", "action"]
    list_select_related = ["environment"]
    search_fields = ["actor_name", "action", "target_label", "target_id"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
