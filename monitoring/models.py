"""Alarms Slipway manages in CloudWatch: the rule (threshold a team can edit) and its history."""

from django.conf import settings
from django.db import models

from catalog.models import ServiceInstance


class AlarmRule(models.Model):
    """One default alarm of a service instance; `threshold` is applied to CloudWatch on save.

    The metric, statistic and comparison come from the kind's defaults (monitoring.alarms);
    only the threshold is the team's to change.
    """

    instance = models.ForeignKey(ServiceInstance, on_delete=models.CASCADE, related_name="alarms")
    key = models.SlugField(max_length=40, help_text="Which default alarm, e.g. lambda-errors.")
    alarm_name = models.CharField(max_length=255)
    threshold = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["instance", "key"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "key"], name="unique_alarm_per_instance")
        ]

    def __str__(self):
        return self.alarm_name

    @property
    def name(self) -> str:
        return self.alarm_name


class AlarmEvent(models.Model):
    """A line of an alarm's history: a state change seen in CloudWatch or a threshold edit."""

    class Kind(models.TextChoices):
        STATE = "state"  # CloudWatch reported a new state
        CONFIG = "config"  # someone changed the threshold in Slipway

    rule = models.ForeignKey(AlarmRule, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=20, blank=True)
    summary = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When it happened in AWS (state changes) or in Slipway (threshold edits).
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            # A state change read twice (page view and beat) is recorded once.
            models.UniqueConstraint(
                fields=["rule", "kind", "state", "occurred_at"], name="unique_alarm_event"
            )
        ]

    def __str__(self):
        return f"{self.rule}: {self.summary}"


class LogSearch(models.Model):
    """One cross-service log search: a Logs Insights query over several services' log groups.

    The row records who read which production logs (it is audited too) and holds AWS's query id,
    so the results page can follow the query while AWS is still scanning.
    """

    class Status(models.TextChoices):
        RUNNING = "running"  # AWS is still scanning; results so far are shown
        COMPLETE = "complete"  # every group was scanned
        FAILED = "failed"  # AWS failed, cancelled or timed the query out (error says which)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    environment = models.ForeignKey(
        "catalog.Environment", on_delete=models.PROTECT, related_name="+"
    )
    text = models.CharField(max_length=200, help_text="What was searched for, e.g. a request id.")
    scope = models.CharField(max_length=300, help_text="The scope as the user chose it.")
    # [[log group, service slug], ...]: what the query covered, in the order shown.
    groups = models.JSONField(default=list)
    start_ms = models.BigIntegerField()
    end_ms = models.BigIntegerField()
    query_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    result_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["environment", "status"])]

    def __str__(self):
        return f"“{self.text}” in {self.scope}"

    @property
    def is_running(self) -> bool:
        return self.status == self.Status.RUNNING
