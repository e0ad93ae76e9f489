"""Deployments: a requested change to one service instance, and the step log a user reads live."""

import hashlib

from django.conf import settings
from django.db import models
from django.urls import reverse

from catalog.models import ServiceInstance


class CodeArtifact(models.Model):
    """A Lambda deployment package (zip), stored once per content hash and referenced by specs."""

    sha256 = models.CharField(max_length=64, unique=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.sha256[:12]} ({self.size} bytes)"

    @staticmethod
    def digest(content: bytes) -> str:
        return hashlib.sha256(content).hexdigest()


class TimedRevert(models.TextChoices):
    """Where a timed scale-up's automatic revert stands."""

    NONE = "", "none"  # not a timed scale
    SCHEDULED = "scheduled"  # beat reverts it when the time comes
    REVERTED = "reverted"  # the revert was planned (its deployment points back here)
    CANCELLED = "cancelled"  # an owner kept the scale
    REFUSED = "refused"  # the state changed since, or the revert could not be planned


class Deployment(models.Model):
    """One requested change (create/update/scale/delete/revert) to a service instance.

    The row is the source of truth; Celery tasks only move `status` forward.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        SCALE = "scale"
        DELETE = "delete"
        REVERT = "revert"

    class Status(models.TextChoices):
        PLANNED = "planned"  # the plan is shown to the user, not yet confirmed
        AWAITING_APPROVAL = "awaiting_approval"  # needs a second team member
        QUEUED = "queued"  # waiting for a worker to claim it
        RUNNING = "running"  # a worker is applying or waiting for stability
        SUCCEEDED = "succeeded"  # AWS matches the desired spec
        FAILED = "failed"  # stopped with an error, nothing to roll back to
        ROLLED_BACK = "rolled_back"  # failed, and the previous spec was restored
        CANCELLED = "cancelled"  # withdrawn or rejected before it ran

    ACTIVE = (Status.AWAITING_APPROVAL, Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK, Status.CANCELLED)
    UNCONFIRMED = (Status.PLANNED,)

    instance = models.ForeignKey(
        ServiceInstance, on_delete=models.CASCADE, related_name="deployments"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    spec = models.JSONField(help_text="The desired spec.")
    previous_spec = models.JSONField(null=True, blank=True)
    # The diff shown before confirming: [{"summary": ..., "details": [...]}, ...].
    plan = models.JSONField(default=list, blank=True)
    reverts = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approval_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker on every step; the reconciler re-enqueues rows whose heartbeat stops.
    # A deployment parked for a rate-limit token holds here the time its token is due.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Changes on every claim, so a stale task (from a worker that died) cannot touch the row.
    lease = models.UUIDField(null=True, blank=True)
    # The process holding the lease (host:pid); the reconciler re-queues the row as soon as that
    # process stops refreshing its liveness key (deployments/liveness.py).
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    wait_started_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # A timed scale-up: after `revert_after` from success, beat plans going back (timed.py).
    revert_after = models.DurationField(null=True, blank=True)
    timed_revert = models.CharField(
        max_length=20, choices=TimedRevert.choices, default=TimedRevert.NONE, blank=True
    )
    timed_revert_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One active deployment per instance, enforced by the database itself.
            models.UniqueConstraint(
                fields=["instance"],
                condition=models.Q(status__in=["awaiting_approval", "queued", "running"]),
                name="one_active_deployment_per_instance",
            ),
            # A second click on "Revert to this version" finds the first plan (see transitions).
            models.UniqueConstraint(
                fields=["reverts", "requested_by"],
                condition=models.Q(status="planned"),
                name="one_planned_revert_per_person",
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self):
        return f"#{self.pk} {self.action} {self.instance}"

    def get_absolute_url(self):
        return reverse("deployments:detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def is_planned(self) -> bool:
        return self.status == self.Status.PLANNED

    @property
    def is_polling(self) -> bool:
        """The page keeps polling while a worker may still change this row."""
        return self.status in (
            self.Status.AWAITING_APPROVAL,
            self.Status.QUEUED,
            self.Status.RUNNING,
        )

    @property
    def revert_at(self):
        """When a scheduled timed revert is due (None: not a timed scale, or not finished)."""
        if self.revert_after is None or self.finished_at is None:
            return None
        return self.finished_at + self.revert_after

    @property
    def spec_kind(self) -> str:
        return self.instance.service.kind


class DeploymentStep(models.Model):
    """One line of a deployment's log: an AWS step, its outcome and how long it took."""

    class Status(models.TextChoices):
        RUNNING = "running"  # under way
        OK = "ok"  # done
        FAILED = "failed"  # AWS said no
        INFO = "info"  # a note, not an AWS step
        INTERRUPTED = "interrupted"  # its worker died mid-step; a later attempt redoes it

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    message = models.TextField(blank=True)
    aws_request_id = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]

    def __str__(self):
        return f"{self.name}: {self.status}"

    @property
    def elapsed_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class DeploymentEvent(models.Model):
    """One state change of a deployment, kept here (an outbox) until it is published to the
    environment's SNS topic. Publishing happens in the worker, after the change is committed,
    so it never blocks or fails the deployment itself; a failure stays visible on this row.
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # recorded, not yet accepted by SNS
        PUBLISHED = "published"  # SNS accepted it (message_id holds its id)
        FAILED = "failed"  # gave up after retries; shown on the deployment page

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    # 1, 2, 3… per deployment, in the order the changes happened: consumers order by it.
    sequence = models.PositiveIntegerField()
    type = models.CharField(max_length=40)  # e.g. "deployment.succeeded"
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A publisher holds the row until this time; another one waits instead of publishing twice.
    claimed_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    message_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["deployment_id", "sequence"]
        constraints = [
            # Each state change is recorded once, whatever retries or duplicate tasks do.
            models.UniqueConstraint(fields=["deployment", "type"], name="one_event_per_change"),
            models.UniqueConstraint(fields=["deployment", "sequence"], name="event_sequence"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"#{self.deployment_id}.{self.sequence} {self.type} ({self.status})"
