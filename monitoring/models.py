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
