"""Writes for monitoring: the default alarms of an instance, threshold edits, alarm history."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import ServiceInstance
from deployments import names
from monitoring import alarms
from monitoring.models import AlarmEvent, AlarmRule
from monitoring.targets import Target, target_for
from portal.aws import aws_client
from portal.db import savepoint_if_in_transaction

ALARM_DESCRIPTION = "Managed by Slipway: change the threshold on the service's Metrics page."


def _put_alarm(
    *, rule: AlarmRule, default: alarms.AlarmDefault, target: Target, actor: str = ""
) -> None:
    """PutMetricAlarm is an upsert: calling it again with the same name replaces the alarm."""
    instance = rule.instance
    if default.namespace in target.unwatched:
        raise ValidationError(
            f"{default.label} has nothing to watch: {target.unwatched[default.namespace]}."
        )
    service = instance.service
    tags = names.tags(
        service_slug=service.slug,
        environment_slug=instance.environment.slug,
        team_slug=service.owner.slug,
    )
    aws_client("cloudwatch", environment=instance.environment, actor=actor).put_metric_alarm(
        AlarmName=rule.alarm_name,
        AlarmDescription=ALARM_DESCRIPTION,
        Namespace=default.namespace,
        MetricName=default.metric,
        Dimensions=target.dimensions[default.namespace],
        Statistic=default.stat,
        Period=default.period,
        EvaluationPeriods=default.evaluation_periods,
        Threshold=rule.threshold,
        ComparisonOperator=default.comparison,
        TreatMissingData="notBreaching",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


@dataclass(frozen=True)
class DefaultAlarms:
    """What ensuring an instance's default alarms did: the rules in CloudWatch, and the
    defaults left out because the instance has nothing for them to watch (with why)."""

    rules: list[AlarmRule]
    unwatched: list[str]

    @property
    def summary(self) -> str:
        """One line for the deployment log."""
        if self.rules:
            line = ", ".join(rule.alarm_name for rule in self.rules)
            return "; ".join([line, *self.unwatched])
        return "; ".join(self.unwatched) or "None for this kind"


def alarms_ensure_defaults(
    *, instance: ServiceInstance, actor: str = "", spec: dict | None = None
) -> list[AlarmRule]:
    """Create (or re-apply) the default alarms of `instance`'s kind. Idempotent.

    The alarms watch what `spec` describes (by default the applied spec). See
    `alarms_apply_defaults`, which also says which defaults had nothing to watch.
    """
    return alarms_apply_defaults(instance=instance, actor=actor, spec=spec).rules


def alarms_apply_defaults(
    *, instance: ServiceInstance, actor: str = "", spec: dict | None = None
) -> DefaultAlarms:
    """Create (or re-apply) the default alarms of `instance`'s kind for `spec`. Idempotent.

    The deployment engine calls this after every successful deployment with the spec it
    applied (a first deployment has no applied spec yet; a redeploy may rename what is
    watched), so an alarm deleted in the console, or a threshold changed there, is put back
    to what Slipway shows. Steps: 1. a rule row per default, keeping a threshold the team
    already edited; 2. PutMetricAlarm for each with the rule's threshold (an upsert in
    CloudWatch). A default with nothing to watch (an SNS service with only queues) is left
    out, and an alarm it had is deleted with its rule; any AWS error is raised.
    """
    target = target_for(instance, spec=spec)
    defaults = alarms.defaults_for(instance.service.kind)
    # One read for all the kind's rules (rows of the instance in hand: no read of it per rule).
    existing = {
        rule.key: rule
        for rule in AlarmRule.objects.filter(
            instance=instance, key__in=[default.key for default in defaults]
        )
    }
    rules, unwatched, stale = [], [], []
    for default in defaults:
        if default.namespace in target.unwatched:
            unwatched.append(
                f"No {default.label.lower()} alarm: {target.unwatched[default.namespace]}"
            )
            if default.key in existing:
                stale.append(existing[default.key])
            continue
        rule = existing.get(default.key) or _rule_create(instance=instance, default=default)
        rule.instance = instance
        _put_alarm(rule=rule, default=default, target=target, actor=actor)
        rules.append(rule)
    if stale:
        client = aws_client("cloudwatch", environment=instance.environment, actor=actor)
        client.delete_alarms(AlarmNames=[rule.alarm_name for rule in stale])
        AlarmRule.objects.filter(pk__in=[rule.pk for rule in stale]).delete()
    return DefaultAlarms(rules=rules, unwatched=unwatched)


def _rule_create(*, instance: ServiceInstance, default: alarms.AlarmDefault) -> AlarmRule:
    """A default's rule row, in one INSERT; the row another run created meanwhile if it won.

    Outside a transaction the INSERT is a statement of its own; inside one a savepoint keeps
    the transaction usable after losing the race (the unique (instance, key) constraint)."""
    try:
        with savepoint_if_in_transaction():
            return AlarmRule.objects.create(
                instance=instance,
                key=default.key,
                alarm_name=names.alarm_name(
                    instance.service.slug, instance.environment.slug, default.key
                ),
                threshold=default.threshold,
            )
    except IntegrityError:
        return AlarmRule.objects.get(instance=instance, key=default.key)


def alarm_threshold_update(
    *, rule: AlarmRule, threshold: float, user: AbstractBaseUser
) -> AlarmRule:
    """Change an alarm's threshold (owners only), apply it in CloudWatch, note it in history.

    The Metrics page and the admin both call this. Steps: 1. check who and what; 2. put the
    alarm in CloudWatch (no database transaction is open across the call); 3. only if AWS took
    it, save the row and its history line in one short transaction. If AWS refuses, the row
    keeps its old threshold.
    """
    if not rule.instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")
    if threshold < 0:
        raise ValidationError({"threshold": "A threshold cannot be negative."})
    default = alarms.default_by_key(rule.key)
    if default is None:
        raise ValidationError(f"Slipway no longer manages an alarm called {rule.key}.")
    before = AlarmRule.objects.values_list("threshold", flat=True).get(pk=rule.pk)
    rule.threshold = threshold
    try:
        _put_alarm(
            rule=rule,
            default=default,
            target=target_for(rule.instance),
            actor=user.get_username(),
        )
    except Exception:
        rule.threshold = before
        raise
    with transaction.atomic():
        rule.save(update_fields=["threshold", "updated_at"])
        AlarmEvent.objects.create(
            rule=rule,
            kind=AlarmEvent.Kind.CONFIG,
            summary=f"Threshold changed from {before:g} to {threshold:g}",
            actor=user,
            occurred_at=timezone.now(),
        )
    return rule


def alarms_delete(*, instance: ServiceInstance, actor: str = "") -> list[str]:
    """Delete every Slipway alarm of `instance` in CloudWatch, then its rules. Idempotent.

    The delete flow calls this as one of its steps: the alarms belong to the instance, so
    they go with it (and leave the Metrics tab). The names are the kind's default alarms and
    any rule rows; those CloudWatch holds are deleted, and returned.
    """
    client = aws_client("cloudwatch", environment=instance.environment, actor=actor)
    prefix = target_for(instance).alarm_prefix
    names = {prefix + default.key for default in alarms.defaults_for(instance.service.kind)}
    names |= set(AlarmRule.objects.filter(instance=instance).values_list("alarm_name", flat=True))
    names = sorted(names)[:100]  # a kind has a handful of alarms; the API takes up to 100
    held = [
        alarm["AlarmName"]
        for alarm in client.describe_alarms(AlarmNames=names).get("MetricAlarms", [])
    ]
    if held:
        client.delete_alarms(AlarmNames=held)
    AlarmRule.objects.filter(instance=instance).delete()
    return held


def alarm_states_record(*, instance: ServiceInstance, states: dict[str, alarms.AlarmState]) -> None:
    """Keep the state changes CloudWatch reports as alarm history (each one once).

    CloudWatch only tells us the current state and since when; every read (a page view, the
    summary) records it, so the history holds each transition Slipway has seen.
    """
    for rule in AlarmRule.objects.filter(instance=instance):
        state = states.get(rule.alarm_name)
        if state is None or state.updated_at is None:
            continue
        AlarmEvent.objects.get_or_create(
            rule=rule,
            kind=AlarmEvent.Kind.STATE,
            state=state.state,
            occurred_at=state.updated_at,
            defaults={"summary": state.reason or f"State is {state.state}"},
        )
