from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from audit.admin_base import AuditedModelAdmin
from catalog import services as catalog_services
from catalog.models import Environment, Membership, Service, ServiceInstance, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Environment)
class EnvironmentAdmin(AuditedModelAdmin):
    list_display = ["slug", "name", "aws_account_id", "region", "requires_approval"]
    list_filter = ["region", "requires_approval"]
    search_fields = ["slug", "name", "aws_account_id"]


@admin.register(Service)
class ServiceAdmin(AuditedModelAdmin):
    list_display = ["slug", "name", "kind", "owner", "lifecycle", "created_at"]
    list_filter = ["kind", "lifecycle", "owner"]
    list_select_related = ["owner"]
    search_fields = ["slug", "name", "description"]
    filter_horizontal = ["depends_on"]
    actions = ["delete_selected"]

    def get_readonly_fields(self, request, obj=None):
        # AWS resource names derive from the slug and the provisioner from the kind: changing
        # either would orphan what the service already runs.
        return ["slug", "kind"] if obj is not None else []

    def delete_view(self, request, object_id, extra_context=None):
        """Deleting a service that runs in AWS is refused, with a link to the delete flow."""
        service = self.get_object(request, unquote(object_id))
        if service is not None:
            holding = catalog_services.instances_holding_aws(service=service)
            if holding:
                _refuse(request, service, holding)
                return redirect("admin:catalog_service_change", service.pk)
        return super().delete_view(request, object_id, extra_context)

    @admin.action(permissions=["delete"], description="Delete selected services")
    def delete_selected(self, request, queryset):
        """Django's bulk delete, refused as a whole if any selected service runs in AWS."""
        refused = False
        for service in queryset:
            holding = catalog_services.instances_holding_aws(service=service)
            if holding:
                _refuse(request, service, holding)
                refused = True
        if refused:
            return None
        return delete_selected(self, request, queryset)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # As catalog service writes do: facet counts and search see the edit at once.
        catalog_services.catalog_refresh()

    def get_deleted_objects(self, objs, request):
        # Instances, deployments and alarm rules cannot be deleted on their own in the admin, but
        # they go with a service that no longer runs anywhere (service_delete checks that).
        to_delete, model_count, _perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        return to_delete, model_count, set(), protected

    def delete_model(self, request, obj):
        catalog_services.service_delete(service=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for service in queryset:
            catalog_services.service_delete(service=service, user=request.user)


def _refuse(request, service, holding) -> None:
    links = format_html_join(
        ", ",
        '<a href="{}">delete it from {}</a>',
        (
            (
                reverse("deployments:delete", args=[service.slug, i.environment.slug]),
                i.environment.name,
            )
            for i in holding
        ),
    )
    messages.error(
        request,
        format_html(
            "{} still runs in AWS, so it cannot be deleted here (the rows would go and its "
            "resources would stay). Use the delete flow, which tears them down first: {}.",
            service.slug,
            links,
        ),
    )


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(AuditedModelAdmin):
    list_display = ["service", "environment", "status", "updated_at"]
    list_filter = ["status", "environment"]
    list_select_related = ["service", "environment"]
    search_fields = ["service__slug"]
    # What AWS holds is written by the workers only.
    readonly_fields = [
        "service",
        "environment",
        "resources",
        "applied_spec",
        "status",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False  # instances are created by a first deployment

    def has_delete_permission(self, request, obj=None):
        return False  # the delete flow tears down what the instance owns in AWS first
