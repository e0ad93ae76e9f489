"""The audit log: one append-only row per mutation, whoever or whatever made it."""

from django.conf import settings
from django.db import models


class AuditEventQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused too, not only per-row ones."""

    def update(self, **kwargs):
        raise ValueError("Audit events cannot be changed.")

    def delete(self):
        raise ValueError("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what to which object, where, with which AWS requests, and how it ended.

    Rows are written by `audit.services.audit_record` only and never edited or deleted through
    Slipway (the admin is read-only; `save()` refuses updates).
    """

    class Result(models.TextChoices):
        OK = "ok"  # the action happened
        FAILED = "failed"  # it was attempted and AWS or Slipway refused it
        DENIED = "denied"  # the actor was not allowed to do it

    class Source(models.TextChoices):
        WEB = "web"  # a page in the portal
        ADMIN = "admin"  # the Django admin
        API = "api"  # the JSON API (personal token)
        SYSTEM = "system"  # a worker or beat task acting on its own
        CLI = "cli"  # a management command

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,  # keep the history when a user is removed
        related_name="+",
    )
    # The actor's username at the time, so a deleted or renamed user stays readable.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    environment = models.ForeignKey(
        "catalog.Environment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    aws_request_ids = models.JSONField(default=list, blank=True)
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.OK)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.actor_name or 'system'} {self.action} {self.target_label} ({self.result})"

    def save(self, *args, **kwargs):
        # The log is append-only: an existing row is never rewritten.
        if self.pk is not None and not self._state.adding:
            raise ValueError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events cannot be deleted.")
