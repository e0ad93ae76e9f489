from django.contrib import admin

from monitoring.models import AlarmEvent, AlarmRule


@admin.register(AlarmRule)
class AlarmRuleAdmin(admin.ModelAdmin):
    list_display = ("alarm_name", "instance", "threshold", "updated_at")
    search_fields = ("alarm_name",)
    readonly_fields = ("alarm_name", "key", "instance")


@admin.register(AlarmEvent)
class AlarmEventAdmin(admin.ModelAdmin):
    list_display = ("rule", "kind", "state", "summary", "occurred_at")
    list_filter = ("kind", "state")
