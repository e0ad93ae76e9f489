from django.contrib import admin

from audit.admin_base import AuditedModelAdmin
from deployments.models import CodeArtifact, Deployment, DeploymentEvent, DeploymentStep


class DeploymentStepInline(admin.TabularInline):
    model = DeploymentStep
    extra = 0
    can_delete = False
    fields = ["name", "status", "message", "aws_request_id", "started_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(AuditedModelAdmin):
    """Deployments are moved forward by workers only; the admin shows them read-only."""

    list_display = ["pk", "instance", "action", "status", "requested_by", "created_at"]
    list_filter = ["status", "action", "instance__environment"]
    list_select_related = ["instance__service", "instance__environment", "requested_by"]
    search_fields = ["instance__service__slug", "error"]
    inlines = [DeploymentStepInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what was done to AWS stays


@admin.register(CodeArtifact)
class CodeArtifactAdmin(AuditedModelAdmin):
    list_display = ["sha256", "size", "created_at"]
    exclude = ["content"]
    readonly_fields = ["sha256", "size", "created_at"]


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(AuditedModelAdmin):
    """The deployment-events outbox, read-only: what was published to SNS, and what failed."""

    list_display = ["deployment", "sequence", "type", "status", "attempts", "published_at"]
    list_filter = ["status", "type"]
    list_select_related = ["deployment__instance__service", "deployment__instance__environment"]
    readonly_fields = [f.name for f in DeploymentEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
