"""Wait until the web server answers, print the URL and demo login, then stay up.

`make run` starts this beside web/worker/beat so the banner is the last thing printed once
everything is ready. It stays running because the process runner stops all processes when one
exits.
"""

import signal
import threading
import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand

from portal.management.commands.demo_data import demo_login


class Command(BaseCommand):
    def _launch_demo_services(self) -> None:
        """Embedded mode: deploy the demo services through the normal path (once)."""
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from catalog.models import Environment, Team
        from portal import emulator
        from portal.aws import is_emulator
        from portal.demo import demo_services_launch

        if not is_emulator():
            return
        try:
            emulator.wait_until_up(settings.AWS_ENDPOINT_URL, timeout=60)
            user = get_user_model().objects.get(username=demo_login()["username"])
            report = demo_services_launch(
                user=user,
                team=Team.objects.get(slug="platform"),
                environment=Environment.objects.get(slug="dev"),
            )
        except Exception as exc:  # noqa: BLE001 — the portal works without the demo services
            self.stderr.write(f"Demo services were not deployed: {exc}")
            return
        for line in report:
            self.stdout.write(f"  demo {line}")

    help = "Print the Slipway URL and demo login once the web server is up."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")

    def handle(self, *args, url, **options):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self._launch_demo_services()
        login = demo_login()
        line = "=" * 64
        self.stdout.write(
            f"\n{line}\n  Slipway is up: {url}/\n"
            f"  Sign in as {login['username']} / {login['password']}\n"
            f"  Ctrl-C stops everything.\n{line}\n"
        )
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
