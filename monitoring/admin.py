from botocore.exceptions import BotoCoreError, ClientError
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect

from audit.admin_base import AuditedModelAdmin
from monitoring import services
from monitoring.models import AlarmEvent, AlarmRule, LogSearch
from portal.aws import error_message


class AlarmRuleForm(forms.ModelForm):
    class Meta:
        model = AlarmRule
        fields = ["threshold"]

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if threshold < 0:  # the same rule the Metrics page applies, before AWS is asked
            raise ValidationError("A threshold cannot be negative.")
        return threshold


@admin.register(AlarmRule)
class AlarmRuleAdmin(AuditedModelAdmin):
    """A threshold edited here goes to CloudWatch through the same service as the Metrics page.

    Rules are created with a service's first deployment and deleted with it, never by hand.
    """

    form = AlarmRuleForm
    list_display = ("alarm_name", "instance", "threshold", "updated_at")
    search_fields = ("alarm_name",)
    readonly_fields = ("alarm_name", "key", "instance")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the alarm would stay in CloudWatch; deleting the instance removes both

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Django wraps this view in a database transaction; the threshold's PutMetricAlarm must
        # not run inside one (the service opens its own short transaction after AWS answered).
        try:
            return self._changeform_view(request, object_id, form_url, extra_context)
        except (ClientError, BotoCoreError) as exc:
            messages.error(request, f"CloudWatch refused the threshold: {error_message(exc)}")
            return redirect(request.path)

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied("Alarm rules are created by deployments.")
        services.alarm_threshold_update(
            rule=obj, threshold=form.cleaned_data["threshold"], user=request.user
        )


@admin.register(AlarmEvent)
class AlarmEventAdmin(AuditedModelAdmin):
    """History: written by Slipway (state changes it saw, threshold edits), read-only here."""

    list_display = ("rule", "kind", "state", "summary", "occurred_at")
    list_filter = ("kind", "state")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LogSearch)
class LogSearchAdmin(AuditedModelAdmin):
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
