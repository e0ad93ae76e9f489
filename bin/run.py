"""`make run`: check Redis, pick the processes to start, and hand over to honcho.

Steps:
1. Redis at REDIS_URL answers → use it. Otherwise, on loopback with `redis-server` installed,
   start one under honcho (stopped with Ctrl-C like the rest). Otherwise stop with the fix.
2. Embedded mode (the default) adds the AWS emulator; `SLIPWAY_AWS=real` leaves it out and
   talks to real AWS through the standard credential chain.
3. The web server: gunicorn (threads, WhiteNoise for static files; portal/gunicorn.conf.py), as
   production serves; `make run DEBUG=1` uses runserver instead (debug pages, auto-reload).
4. exec honcho with the Procfile and the chosen process names.
"""

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

import redis

ROOT = Path(__file__).resolve().parent.parent


def redis_processes() -> list[str]:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return []
    except redis.exceptions.RedisError:
        pass
    parsed = urlparse(url)
    if parsed.hostname in ("127.0.0.1", "localhost", "::1") and shutil.which("redis-server"):
        os.environ["SLIPWAY_REDIS_PORT"] = str(parsed.port or 6379)
        print(f"Redis is not running at {url}; starting redis-server for this session.")
        return ["redis"]
    sys.exit(
        f"Redis is not reachable at {url}. Install it (sudo apt-get install -y redis-server) "
        "or point REDIS_URL at a running Redis, then run `make run` again."
    )


def app_processes(environ) -> list[str]:
    """The Procfile entries to start besides Redis."""
    processes = []
    if environ.get("SLIPWAY_AWS", "embedded") != "real":
        processes.append("emulator")
    debug = environ.get("DEBUG", "0").lower() in ("1", "true", "yes", "on")
    return [*processes, "worker", "beat", "web-debug" if debug else "web", "ready"]


def main() -> None:
    processes = redis_processes() + app_processes(os.environ)
    honcho = str(ROOT / ".venv" / "bin" / "honcho")
    os.execv(honcho, [honcho, "-f", str(ROOT / "Procfile"), "start", *processes])


if __name__ == "__main__":
    main()
