from django.contrib import admin

from audit.admin_base import AuditedModelAdmin
from interop.models import EntityRecord


@admin.register(EntityRecord)
class EntityRecordAdmin(AuditedModelAdmin):
    """Read-only: rows are written by imports (re-import the file to change them)."""

    list_display = ["kind", "namespace", "name", "service", "team", "updated_at"]
    list_filter = ["kind", "namespace"]
    search_fields = ["name", "title"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
