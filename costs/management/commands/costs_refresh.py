"""Estimate every deployed instance's applied spec again (after a price file update, say)."""

from django.core.management.base import BaseCommand

from catalog.models import ServiceInstance
from costs.services import instance_cost_refresh


class Command(BaseCommand):
    help = (
        "Re-estimate the monthly cost of every deployed instance from costs/prices/ and the "
        "traffic figures (or, with --metrics, last week's CloudWatch metrics where none typed)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--metrics",
            action="store_true",
            help="Read last week's Lambda and API Gateway metrics for instances without figures.",
        )

    def handle(self, *args, metrics: bool = False, **options):
        instances = ServiceInstance.objects.filter(applied_spec__isnull=False).select_related(
            "service", "environment"
        )
        count = 0
        for instance in instances.iterator():
            instance_cost_refresh(instance=instance, metrics=metrics)
            count += 1
        self.stdout.write(f"Estimated {count} instance(s).")
