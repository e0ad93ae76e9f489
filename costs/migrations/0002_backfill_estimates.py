"""Backfill: estimate every deployed instance's applied spec (no traffic figures exist yet,
and a migration never reads CloudWatch; `manage.py costs_refresh` adds last week's metrics)."""

from django.db import migrations
from django.utils import timezone


def backfill(apps, schema_editor):
    from pydantic import ValidationError

    from costs.estimate import Traffic, cents, estimate
    from costs.prices import load_prices
    from deployments.specs import parse_spec

    ServiceInstance = apps.get_model("catalog", "ServiceInstance")
    InstanceCost = apps.get_model("costs", "InstanceCost")
    prices = load_prices()
    instances = ServiceInstance.objects.filter(applied_spec__isnull=False).select_related(
        "environment"
    )
    for instance in instances.iterator():
        try:
            spec = parse_spec(instance.applied_spec)
        except ValidationError:
            continue
        found = estimate(spec, Traffic(), prices, instance.environment.region)
        monthly = found.monthly
        InstanceCost.objects.update_or_create(
            instance_id=instance.pk,
            defaults={
                "monthly_usd": None if monthly is None else cents(monthly),
                "note": found.unavailable[:200],
                "price_date": found.price_date,
                "estimated_at": timezone.now(),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("costs", "0001_initial")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
