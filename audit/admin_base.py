"""The base every Slipway ModelAdmin uses, so each admin deletion is audited once per object.

Django writes the admin's LogEntry rows (which audit/receivers.py mirrors into the audit log)
with one `bulk_create` when several objects are deleted at once. `bulk_create` sends no
`post_save` signal, so a bulk delete in the admin would leave no audit trail at all. Logging
each object with its own LogEntry save keeps the mirror working for bulk deletes too.
"""

from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.db import IntegrityError, models


class AuditedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose deletions (single or bulk) each write one audit row."""

    # A URL typed without a scheme means https (Django 6's default; Django 5.2 warns that
    # its http default goes away).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Django's add/change page, answering a unique value taken by another request between
        the form's check and its INSERT (two people, one slug) as the form answers one taken
        before: Django saves the object, its inlines and the log in one transaction, rolled
        back whole at the IntegrityError; the same POST validated again finds the other row
        and shows the form's own field error (HTTP 200, nothing written). A second
        IntegrityError (a constraint the form does not check) is raised as before."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            if request.method != "POST":
                raise
            return super().changeform_view(request, object_id, form_url, extra_context)

    def log_deletions(self, request, queryset):
        return [
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=[obj],
                action_flag=DELETION,
                single_object=True,
            )
            for obj in queryset
        ]
