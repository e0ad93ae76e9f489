from django.contrib import admin

from catalog.models import Environment, Membership, Service, ServiceInstance, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "aws_account_id", "region", "requires_approval"]
    list_filter = ["region", "requires_approval"]
    search_fields = ["slug", "name", "aws_account_id"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "kind", "owner", "lifecycle", "created_at"]
    list_filter = ["kind", "lifecycle", "owner"]
    list_select_related = ["owner"]
    search_fields = ["slug", "name", "description"]
    filter_horizontal = ["depends_on"]


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(admin.ModelAdmin):
    list_display = ["service", "environment", "status", "updated_at"]
    list_filter = ["status", "environment"]
    list_select_related = ["service", "environment"]
    search_fields = ["service__slug"]
    # What AWS holds is written by the workers only.
    readonly_fields = ["resources", "applied_spec", "status", "updated_at"]
