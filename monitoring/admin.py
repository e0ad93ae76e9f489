from django.contrib import admin

from monitoring.models import AlarmEvent, AlarmRule, LogSearch


@admin.register(AlarmRule)
class AlarmRuleAdmin(admin.ModelAdmin):
    list_display = ("alarm_name", "instance", "threshold", "updated_at")
    search_fields = ("alarm_name",)
    readonly_fields = ("alarm_name", "key", "instance")


@admin.register(AlarmEvent)
class AlarmEventAdmin(admin.ModelAdmin):
    list_display = ("rule", "kind", "state", "summary", "occurred_at")
    list_filter = ("kind", "state")


@admin.register(LogSearch)
class LogSearchAdmin(admin.ModelAdmin):
    """Who searched which logs (read-only: the audit log holds the same facts)."""

    list_display = ("text", "user", "environment", "scope", "status", "created_at")
    list_filter = ("status", "environment")
    readonly_fields = [f.name for f in LogSearch._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
