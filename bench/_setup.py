"""Shared set-up for benchmarks: a PostgreSQL database, Redis db and emulator of their own.

Import this first: it sets the environment before Django loads its settings.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Scripts here are run as `python bench/x.py`, which puts bench/ first on the path; its
# catalog.py would then shadow the catalog app. Put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("SLIPWAY_BENCH_DB", "slipway_bench")
os.environ.update(
    DJANGO_SETTINGS_MODULE="portal.settings",
    DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    REDIS_URL=os.environ.get("SLIPWAY_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
    CELERY_QUEUE="slipway-bench",
    CACHE_KEY_PREFIX="slipway-bench",
    SLIPWAY_DEPLOY_POLL_SECONDS="0.2",
    SLIPWAY_AWS_MAX_ATTEMPTS="3",
    LOG_LEVEL="WARNING",
    # Measure Slipway's own overhead, not AWS's published rate limits (API Gateway allows one
    # CreateDeployment per 5 s, which would dominate every figure).
    SLIPWAY_AWS_RATE_LIMITS="false",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{DB_NAME}"')


def start_emulator():
    """Start `manage.py aws_emulator` on a free port; return (process, url)."""
    from portal import emulator

    port = free_port()
    url = emulator.emulator_url("127.0.0.1", port)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "aws_emulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    emulator.wait_until_up(url, timeout=60)
    os.environ["AWS_ENDPOINT_URL"] = url
    return proc, url


def setup_django():
    import django

    recreate_database()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
