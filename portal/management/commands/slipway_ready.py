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
