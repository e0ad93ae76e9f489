from django.contrib import admin
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html

from audit.admin_base import AuditedModelAdmin
from costs.models import InstanceCost


@admin.register(InstanceCost)
class InstanceCostAdmin(AuditedModelAdmin):
    """Cost estimates, read-only. The figure is the estimator's (refreshed when a deployment
    succeeds and by `manage.py costs_refresh`), the traffic figures are typed on the deploy,
    update and scale forms (audited as cost.traffic_set): an edit here would bypass both."""

    list_display = [
        "instance",
        "service_link",
        "environment",
        "monthly_usd",
        "requests_per_month",
        "duration_ms",
        "note",
        "price_date",
        "estimated_at",
    ]
    list_filter = [
        "instance__environment",
        "instance__service__kind",
        ("monthly_usd", admin.EmptyFieldListFilter),
        "price_date",
    ]
    list_select_related = ["instance__service", "instance__environment"]
    search_fields = ["instance__service__slug", "instance__service__name", "note"]
    ordering = [F("monthly_usd").desc(nulls_last=True), "pk"]
    fields = [
        "instance",
        "service_link",
        "environment",
        "monthly_usd",
        "note",
        "price_date",
        "estimated_at",
        "requests_per_month",
        "duration_ms",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # a row is written by the estimator (costs.services)

    def has_change_permission(self, request, obj=None):
        return False  # figures come from the estimator; traffic from the service's forms

    def has_delete_permission(self, request, obj=None):
        return False  # it goes with its instance; the next estimate would write it again

    @admin.display(description="service", ordering="instance__service__slug")
    def service_link(self, cost: InstanceCost) -> str:
        service = cost.instance.service
        return format_html('<a href="{}">{}</a>', service.get_absolute_url(), service.name)

    @admin.display(description="environment", ordering="instance__environment__slug")
    def environment(self, cost: InstanceCost) -> str:
        environment = cost.instance.environment
        url = reverse("admin:catalog_environment_change", args=[environment.pk])
        return format_html('<a href="{}">{}</a>', url, environment.name)
