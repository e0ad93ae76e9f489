"""Write DEMO metric points and log lines for deployed services (embedded emulator only)."""

from django.core.management.base import BaseCommand, CommandError

from monitoring import demo
from portal.aws import is_emulator


class Command(BaseCommand):
    help = (
        "Embedded mode only: write demo traffic (metrics and log lines, with an error spike "
        "after each deployment) for deployed services, so charts and logs show something."
    )

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=60, help="Backfill this many minutes.")
        parser.add_argument("--service", default="", help="Only this service slug.")

    def handle(self, *args, minutes, service, **options):
        if not is_emulator():
            raise CommandError("Demo traffic is for the embedded emulator only, never real AWS.")
        instances = demo.demo_instances()
        if service:
            instances = instances.filter(service__slug=service)
        total = 0
        for instance in instances:
            try:
                written = demo.demo_traffic_write(instance=instance, backfill_minutes=minutes)
            except demo.NotEmbedded as exc:
                raise CommandError(str(exc)) from exc
            total += 1
            self.stdout.write(f"{instance}: {written} minute(s) of demo traffic")
        self.stdout.write(self.style.SUCCESS(f"Demo traffic written for {total} instance(s)."))
