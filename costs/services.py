"""Writes for cost estimates: an instance's traffic figures, and its denormalized estimate."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from audit.services import audit_record
from catalog.models import ServiceInstance
from costs import selectors
from costs.estimate import cents
from costs.models import InstanceCost

# The stored figure's column holds up to $9,999,999,999.99 (numeric(12, 2)).
STORABLE_LIMIT = Decimal(10) ** 10
TOO_LARGE = "Over $9,999,999,999.99 a month: check the traffic figures."


def instance_traffic_set(
    *,
    instance: ServiceInstance,
    requests_per_month: int | None,
    duration_ms: Decimal | None,
    user,
) -> InstanceCost:
    """Store the traffic figures typed on a form (both None = use last week's metrics).

    Audited when they change; the estimate of the applied spec follows them at once.
    """
    row, _ = InstanceCost.objects.get_or_create(instance=instance)
    before = {"requests_per_month": row.requests_per_month, "duration_ms": row.duration_ms}
    after = {"requests_per_month": requests_per_month, "duration_ms": duration_ms}
    if before == after:
        return row
    InstanceCost.objects.filter(pk=row.pk).update(**after)
    audit_record(
        actor=user,
        action="cost.traffic_set",
        target=instance,
        environment=instance.environment,
        before={k: None if v is None else str(v) for k, v in before.items()},
        after={k: None if v is None else str(v) for k, v in after.items()},
    )
    return instance_cost_refresh(instance=instance, metrics=False)


def instance_cost_refresh(*, instance: ServiceInstance, metrics: bool = True) -> InstanceCost:
    """Estimate the instance's applied spec again and store the figure (safe to repeat).

    Used by `manage.py costs_refresh` and when the traffic figures change. `metrics=False`
    leaves CloudWatch out (the figures typed, or no traffic).
    """
    return instance_cost_store(instance=instance, spec=instance.applied_spec, metrics=metrics)


def instance_cost_store(
    *, instance: ServiceInstance, spec: dict | None, metrics: bool = False
) -> InstanceCost:
    """Store the estimate of `spec` (what the instance now runs; None after a teardown) as the
    instance's monthly cost, in one upsert. The engine calls it when a deployment succeeds,
    with the spec it applied (no CloudWatch call then)."""
    environment = instance.environment
    traffic = selectors.traffic_for(
        instance=instance, environment=environment, kind=instance.service.kind, metrics=metrics
    )
    found = selectors.spec_estimate(spec=spec, environment=environment, traffic=traffic)
    monthly = None if found.monthly is None else cents(found.monthly)
    note = found.unavailable
    if monthly is not None and monthly >= STORABLE_LIMIT:
        monthly, note = None, TOO_LARGE  # absurd traffic figures: no figure, said why
    row = InstanceCost(
        instance=instance,
        monthly_usd=monthly,
        note=note[:200],
        price_date=found.price_date,
        estimated_at=timezone.now(),
    )
    InstanceCost.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["instance"],
        update_fields=["monthly_usd", "note", "price_date", "estimated_at"],
    )
    return row
