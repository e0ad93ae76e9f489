"""Timed scale-ups: a scale that reverts itself after N hours, through a normal deployment.

1. The scale form's "revert after" is stored on the scale deployment (`revert_after`,
   `timed_revert = scheduled`) when it is planned.
2. Once it succeeded and its time came, beat (`timed_reverts_run_due`) claims it with a
   conditional UPDATE (scheduled → reverted), checks that the instance still holds the numbers
   the scale-up produced, and plans a scale back to the earlier numbers of the kind's scaling
   fields only (a later change to other fields stays). It is planned and confirmed as the
   requester, audited, and shown in the history; an environment that needs approval waits for
   a teammate as usual.
3. If someone changed the scaling since, nothing is reverted: the row says why (`refused`).
Owners can extend the window or cancel the revert; both are one conditional UPDATE, audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from deployments.errors import DeploymentError
from deployments.guardrails import GuardrailViolation
from deployments.models import Deployment, TimedRevert
from deployments.specs import SPECS

log = logging.getLogger(__name__)
MAX_HOURS = 7 * 24


def _scale_fields(kind: str) -> tuple[str, ...]:
    return SPECS[kind].scale_fields


def _scale_numbers(kind: str, spec: dict | None) -> dict:
    return {f: (spec or {}).get(f) for f in _scale_fields(kind)}


def _earlier_numbers(kind: str, spec: dict | None) -> dict:
    """The scaling fields of the earlier spec; a field it did not hold had the spec's default."""
    fields = SPECS[kind].model_fields
    return {
        f: (spec or {})[f]
        if f in (spec or {})
        else fields[f].get_default(call_default_factory=True)
        for f in _scale_fields(kind)
    }


def timed_revert_schedule(*, deployment: Deployment, hours: int) -> bool:
    """Mark a planned scale as timed (before it is confirmed)."""
    if not 1 <= hours <= MAX_HOURS:
        raise DeploymentError(f"Revert after 1 to {MAX_HOURS} hours.")
    return bool(
        Deployment.objects.filter(
            pk=deployment.pk, action=Deployment.Action.SCALE, status=Deployment.Status.PLANNED
        ).update(revert_after=timedelta(hours=hours), timed_revert=TimedRevert.SCHEDULED)
    )


def _owner(deployment: Deployment, user: AbstractBaseUser) -> None:
    if not deployment.instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")


def timed_revert_extend(
    *, deployment: Deployment, user: AbstractBaseUser, hours: int
) -> Deployment:
    """Push the revert back by `hours` (the window stays within a week in total)."""
    _owner(deployment, user)
    if not 1 <= hours <= MAX_HOURS:
        raise DeploymentError(f"Extend by 1 to {MAX_HOURS} hours.")
    limit = timedelta(hours=MAX_HOURS) - timedelta(hours=hours)
    won = Deployment.objects.filter(
        pk=deployment.pk, timed_revert=TimedRevert.SCHEDULED, revert_after__lte=limit
    ).update(revert_after=F("revert_after") + timedelta(hours=hours))
    if not won:
        raise DeploymentError("This scale-up is not waiting to revert (or would exceed a week).")
    deployment.refresh_from_db()
    audit_record(
        actor=user,
        action="deployment.timed_revert.extend",
        target=deployment,
        environment=deployment.instance.environment,
        after={"revert_at": deployment.revert_at, "hours_added": hours},
    )
    return deployment


def timed_revert_cancel(*, deployment: Deployment, user: AbstractBaseUser) -> Deployment:
    """Keep the scale: no automatic revert."""
    _owner(deployment, user)
    won = Deployment.objects.filter(pk=deployment.pk, timed_revert=TimedRevert.SCHEDULED).update(
        timed_revert=TimedRevert.CANCELLED,
        timed_revert_note=f"Cancelled by {user.get_username()}; the scale stays.",
    )
    if not won:
        raise DeploymentError("This scale-up is not waiting to revert any more.")
    deployment.refresh_from_db()
    audit_record(
        actor=user,
        action="deployment.timed_revert.cancel",
        target=deployment,
        environment=deployment.instance.environment,
    )
    return deployment


def timed_reverts_due() -> list[int]:
    """Succeeded timed scale-ups whose time has come."""
    now = timezone.now()
    return [
        d.pk
        for d in Deployment.objects.filter(
            action=Deployment.Action.SCALE,
            status=Deployment.Status.SUCCEEDED,
            timed_revert=TimedRevert.SCHEDULED,
            finished_at__isnull=False,
        ).only("pk", "finished_at", "revert_after")
        if d.revert_at and d.revert_at <= now
    ]


def _settle(pk: int, status: str, note: str) -> None:
    Deployment.objects.filter(pk=pk).update(timed_revert=status, timed_revert_note=note[:2000])


def timed_revert_run(*, deployment_id: int) -> Deployment | None:
    """Plan (and confirm) the revert of one due scale-up; returns the revert deployment."""
    from deployments import services

    claimed = Deployment.objects.filter(
        pk=deployment_id,
        status=Deployment.Status.SUCCEEDED,
        timed_revert=TimedRevert.SCHEDULED,
    ).update(timed_revert=TimedRevert.REVERTED)
    if not claimed:
        return None  # cancelled, or another beat run has it
    scale = Deployment.objects.select_related(
        "instance__service", "instance__environment", "requested_by"
    ).get(pk=deployment_id)
    instance = scale.instance
    kind = instance.service.kind
    now_numbers = _scale_numbers(kind, instance.applied_spec)
    if now_numbers != _scale_numbers(kind, scale.spec):
        _settle(
            scale.pk,
            TimedRevert.REFUSED,
            "Not reverted: the scaling changed after this scale-up "
            f"(now {now_numbers}); the later change stays.",
        )
        return None
    spec = {**instance.applied_spec, **_earlier_numbers(kind, scale.previous_spec)}
    try:
        revert = services.deployment_plan(
            instance=instance,
            spec=spec,
            user=scale.requested_by,
            action=Deployment.Action.SCALE,
            reverts=scale,
            source="system",
            restoring=scale.previous_spec,  # numbers that were live before: no step limit
        )
        services.deployment_confirm(deployment=revert, user=scale.requested_by, source="system")
    except (DeploymentError, GuardrailViolation, PermissionDenied) as exc:
        _settle(scale.pk, TimedRevert.REFUSED, f"Not reverted: {exc}")
        return None
    _settle(scale.pk, TimedRevert.REVERTED, f"Reverting in deployment #{revert.pk}.")
    return revert


def timed_reverts_run_due() -> list[int]:
    """Beat: revert every due scale-up; returns the revert deployments planned."""
    planned = []
    for pk in timed_reverts_due():
        try:
            revert = timed_revert_run(deployment_id=pk)
        except Exception:  # noqa: BLE001 — one failure must not stop the others
            log.exception("Timed revert of deployment %s failed", pk)
            _settle(pk, TimedRevert.REFUSED, "Not reverted: Slipway could not plan it.")
            continue
        if revert is not None:
            planned.append(revert.pk)
    return planned
