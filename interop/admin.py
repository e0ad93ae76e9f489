from django.contrib import admin

from audit.admin_base import AuditedModelAdmin
from interop.importer import ImportReport
from interop.models import EntityRecord, ImportFile, ImportJob


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


class ImportFileInline(admin.TabularInline):
    """The names of the files a job still waits to read (the worker deletes them when it has);
    their content stays out of the page."""

    model = ImportFile
    fields = ["name"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(AuditedModelAdmin):
    """Import jobs, read-only: a worker moves them forward (interop/jobs.py), and beat deletes
    them once they are older than SLIPWAY_IMPORT_JOB_KEEP_DAYS. The whole report is on the
    job's own page ("View on site"). As on the job's own page, a
    report is for its uploader and superusers: other staff see their own jobs only."""

    list_display = [
        "pk",
        "created_by",
        "status",
        "stage",
        "file_count",
        "progress",
        "created_at",
        "finished_at",
    ]
    list_display_links = ["pk", "status"]
    list_filter = ["status", "stage", ("finished_at", admin.EmptyFieldListFilter)]
    list_select_related = ["created_by"]
    search_fields = ["created_by__username", "error"]
    date_hierarchy = "created_at"
    fields = [
        "created_by",
        "status",
        "stage",
        "file_count",
        "progress",
        "outcome",
        "error",
        "attempts",
        "lease",
        "created_at",
        "heartbeat_at",
        "finished_at",
    ]
    readonly_fields = fields
    inlines = [ImportFileInline]

    def get_queryset(self, request):
        # A report lists every entity of an upload (up to 5,000 lines): the list leaves it out,
        # a job's page loads it.
        jobs = super().get_queryset(request).defer("report")
        return jobs if request.user.is_superuser else jobs.filter(created_by=request.user)

    def has_add_permission(self, request):
        return False  # jobs are created by an upload on the import page

    def has_change_permission(self, request, obj=None):
        return False  # statuses change by the worker's conditional UPDATEs only

    def has_delete_permission(self, request, obj=None):
        return False  # finished jobs are pruned by beat; a running one must not vanish

    @admin.display(description="entities planned")
    def progress(self, job: ImportJob) -> str:
        return f"{job.done} / {job.total}"

    @admin.display(description="result")
    def outcome(self, job: ImportJob) -> str:
        if job.status != ImportJob.Status.FINISHED:
            return ""
        return ImportReport.from_dict(job.report).summary()
