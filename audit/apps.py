from django.apps import AppConfig


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        # Every change made through the Django admin is already written to Django's LogEntry;
        # mirroring those rows here audits all admin edits (teams, environments, services...)
        # without each ModelAdmin having to remember. A signal is the seam Django offers for
        # this; it holds no business logic, only the copy.
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        from audit.receivers import mirror_admin_log_entry

        post_save.connect(
            mirror_admin_log_entry, sender=LogEntry, dispatch_uid="audit_admin_log_entry"
        )
