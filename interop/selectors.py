"""Reads for the interop pages."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from interop.models import ImportJob


def import_job_for_user(*, user, pk: int) -> ImportJob:
    """The import job, if `user` may follow it (its uploader, or a superuser); else 404.

    Imports are for staff (403 for everyone else, as on the upload page); another staff
    member's job is not theirs to read: its report lists the other person's files.
    """
    if not user.is_staff:
        raise PermissionDenied("Only staff can import a Backstage catalog.")
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None or not job.owned_by(user):
        raise Http404("No such import.")
    return job


def import_jobs_recent(*, user, limit: int = 5) -> list[ImportJob]:
    """The user's latest uploads, newest first (the report stays out: it can be long)."""
    return list(ImportJob.objects.filter(created_by=user).defer("report")[:limit])
