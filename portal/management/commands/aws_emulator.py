"""Run the embedded AWS emulator (moto server) on loopback until interrupted."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal import emulator


class Command(BaseCommand):
    help = "Start the embedded AWS emulator (moto in server mode) on loopback."
    requires_system_checks = []  # it needs neither the database nor the URL conf

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.EMULATOR_HOST)
        parser.add_argument("--port", type=int, default=settings.EMULATOR_PORT)

    def handle(self, *args, host, port, **options):
        url = emulator.emulator_url(host, port)
        if emulator.is_up(url):
            raise CommandError(
                f"Something already answers at {url}. Stop it, or pick another port with "
                "SLIPWAY_EMULATOR_PORT (and AWS_ENDPOINT_URL to match)."
            )
        try:
            server = emulator.start(host, port)
        except OSError as exc:
            raise CommandError(f"Cannot start the AWS emulator on {url}: {exc}") from exc
        self.stdout.write(f"AWS emulator (moto) ready at {url} — state is kept in memory only.")
        self.stdout.flush()

        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        server.stop()
