"""Benchmark the paged JSON API at 5,000 and 20,000 services, served by gunicorn.

    .venv/bin/python bench/api.py [--sizes 5000 20000] [--requests 200] [--port 8111] [--keep]

Creates a PostgreSQL database of its own (slipway_bench_api, dropped at the end unless --keep),
bulk-fills 400 teams, services (with instances in three environments), runs `ANALYZE`, starts
gunicorn exactly as `make run` does (portal/gunicorn.conf.py: gthread 2 processes × 8 threads,
persistent DB connections; no access log) and times, over one keep-alive HTTP connection with a
personal token:

- the first page (`GET /api/v1/services`, 50 items, total and facets);
- `?q=payment` (facets cached, as for repeated questions), the same with the facet cache
  emptied before every request (a first-time question), and the same right after a catalog
  write (an untimed UPDATE of a matching service's description: its cached counts are then
  patched with the change, catalog.facets.facets_patch);
- an owner filter (`?owner=team-007`);
- a deep page: the cursor of row 5,000 (page 101 at 50 a page; the last page at 5,000);
- ETag revalidation of the first page (`If-None-Match` → 304).

It prints p50/p95 in milliseconds, the gunicorn workers' CPU per request (from /proc: what a
call costs the server, which a busy machine delays but does not inflate as it does wall times),
the ratio to Backstage's catalog API where issue 11 has a
figure (Backstage timed on this machine: `?q=payment` p95 9 ms at 5,000 and 22 ms at 20,000;
first page p95 28 ms at 5,000, p50 82 ms at 20,000; owner filter p50 177 ms at 20,000; page 100
p95 4 ms at 5,000), and the load average before and after. Rate limits stay on (their Redis
round trips are part of every call) with buckets large enough never to refuse the bench.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
from bench._proc import children_cpu_seconds  # noqa: E402 — after the path is set

DB_NAME = os.environ.get("SLIPWAY_BENCH_DB", "slipway_bench_api")
SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "portal.settings",
    "DATABASE_URL": f"{SERVER}/{DB_NAME}",
    "REDIS_URL": os.environ.get("SLIPWAY_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
    "CACHE_KEY_PREFIX": "slipway-bench-api",
    "CELERY_QUEUE": "slipway-bench-api",
    "DEBUG": "0",
    "CONN_MAX_AGE": "60",  # production keeps connections; a new one costs ~4 ms
    "LOG_LEVEL": "WARNING",
    "SLIPWAY_ACCESS_LOG": "",
    "SLIPWAY_API_ADDRESS_RATE": "100000",
    "SLIPWAY_API_ADDRESS_BURST": "1000000",
    "SLIPWAY_API_TOKEN_RATE": "100000",
    "SLIPWAY_API_TOKEN_BURST": "1000000",
}
os.environ.update(BENCH_ENV)

WORDS = (  # noqa: SIM905 — a word list reads better as prose
    "payments ledger search index billing invoice checkout cart orders inventory shipping "
    "tracking email notify sms push auth login session token profile account users avatar "
    "images thumbnails video audio transcode upload storage archive backup export import "
    "report analytics metrics events stream queue scheduler cron batch worker gateway proxy "
    "router cache config flags experiments pricing tax currency fraud risk kyc compliance audit "
    "catalog product reviews ratings recommend ranking feed timeline chat presence maps geo"
).split()
LIFECYCLES = ["production"] * 6 + ["experimental"] * 3 + ["deprecated"]
STATUSES = ["healthy"] * 80 + ["failed"] * 5 + ["drifted"] * 5 + ["deploying"] * 3 + ["deleted"] * 7
# Backstage's catalog API on this machine (issue 11): (scenario, size) → (statistic, ms).
BACKSTAGE = {
    ("q=payment", 5000): ("p95", 9.0),
    ("q=payment", 20000): ("p95", 22.0),
    ("q=payment, facets recounted", 5000): ("p95", 9.0),
    ("q=payment, facets recounted", 20000): ("p95", 22.0),
    ("q=payment, after a write", 5000): ("p95", 9.0),
    ("q=payment, after a write", 20000): ("p95", 22.0),
    ("first page", 5000): ("p95", 28.0),
    ("first page", 20000): ("p50", 82.0),
    ("owner filter", 20000): ("p50", 177.0),
    ("deep cursor page", 5000): ("p95", 4.0),
}


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def fill(start: int, stop: int, *, rng, teams, environments) -> None:
    """Bulk-insert services start..stop-1 and their instances, then ANALYZE."""
    from django.db import connection

    from catalog.models import Service, ServiceInstance
    from catalog.search import catalog_changed

    for first in range(start, stop, 2000):
        services = []
        for n in range(first, min(first + 2000, stop)):
            words = rng.sample(WORDS, 2)
            services.append(
                Service(
                    slug=f"{words[0]}-{words[1]}-{n:05d}",
                    name=f"{words[0].title()} {words[1]} {n}",
                    kind=rng.choice(["lambda"] * 5 + ["ecs"] * 4 + ["apigateway"]),
                    owner=teams[n % len(teams)],
                    lifecycle=rng.choice(LIFECYCLES),
                    system=rng.choice(WORDS),
                    description=" ".join(rng.sample(WORDS, 8)).capitalize() + ".",
                    tags=rng.sample(["pci", "gdpr", "python", "go", "tier-1"], rng.randint(0, 2)),
                )
            )
        services = Service.objects.bulk_create(services)
        ServiceInstance.objects.bulk_create(
            ServiceInstance(service=s, environment=env, status=rng.choice(STATUSES))
            for s in services
            for env, share in zip(environments, (1.0, 0.7, 0.6), strict=True)
            if rng.random() < share
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    catalog_changed()


class Client:
    """One keep-alive HTTP/1.1 connection to gunicorn, with the bench user's token."""

    def __init__(self, port: int, token: str):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes, dict, float]:
        try:
            return self._get(path, headers)
        except (http.client.RemoteDisconnected, ConnectionError):
            # gunicorn closes a keep-alive connection idle for 5 s (between the sizes' fills).
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return self._get(path, headers)

    def _get(self, path: str, headers: dict | None) -> tuple[int, bytes, dict, float]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers={**self.headers, **(headers or {})})
        response = self.conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        return response.status, body, dict(response.getheaders()), elapsed


def start_gunicorn(port: int) -> subprocess.Popen:
    """gunicorn exactly as the Procfile's `web` starts it, on `port`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "portal/gunicorn.conf.py", "portal.wsgi"],
        cwd=ROOT,
        env={**os.environ, **BENCH_ENV, "SLIPWAY_PORT": str(port)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def measure(client: Client, name: str, path: str, n: int, *, before=None, headers=None) -> dict:
    """Time `n` requests (after 10 unmeasured); every answer must be 200 (or 304 with ETags)."""
    times, size, status, cpu = [], 0, None, 0.0
    for i in range(n + 10):
        if before:
            before()
        if i == 10:
            cpu = children_cpu_seconds(SERVER_PID)
        status, body, _, elapsed = client.get(path, headers)
        assert status in (200, 304), (name, status, body[:300])
        if i >= 10:
            times.append(elapsed)
            size = len(body)
    cpu = children_cpu_seconds(SERVER_PID) - cpu
    times.sort()
    return {
        "name": name,
        "p50": statistics.median(times),
        "p95": times[int(len(times) * 0.95) - 1],
        "cpu": cpu / n * 1000,
        "bytes": size,
        "status": status,
    }


SERVER_PID = 0  # gunicorn's master


def write_one(service) -> None:
    """A catalog write: a matching service's description changes (PostgreSQL's triggers see
    every write, whoever makes it)."""
    from catalog.models import Service

    service.description = f"{service.description.split(' #')[0]} #{time.perf_counter_ns()}"
    Service.objects.filter(pk=service.pk).update(description=service.description)


def run_size(client: Client, size: int, n: int) -> list[dict]:
    from catalog.filters import search_q
    from catalog.models import Service
    from catalog.search import catalog_changed

    first = "/api/v1/services"
    deep_at = min(5000, size - 50)
    cursor = Service.objects.order_by("slug").values_list("slug", flat=True)[deep_at - 1]
    target = Service.objects.filter(search_q("payment")).select_related("owner").first()
    return [
        measure(client, "first page", first, n),
        measure(client, "q=payment", "/api/v1/services?q=payment", n),
        measure(
            client,
            "q=payment, facets recounted",
            "/api/v1/services?q=payment",
            n,
            before=catalog_changed,
        ),
        measure(
            client,
            "q=payment, after a write",
            "/api/v1/services?q=payment",
            n,
            before=lambda: write_one(target),
        ),
        measure(client, "owner filter", "/api/v1/services?owner=team-007", n),
        measure(client, "deep cursor page", f"/api/v1/services?{urlencode({'cursor': cursor})}", n),
        measure(
            client, "ETag revalidation", first, n, headers={"If-None-Match": _etag(client, first)}
        ),
    ]


def _etag(client, path: str) -> str:
    """The page's ETag as it is now: taken after the cases that write (an earlier one would
    name a page the writes have changed, and every revalidation would be a full 200)."""
    status, _, headers, _ = client.get(path)
    assert status == 200
    return headers["ETag"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8111)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from api.services import token_create
    from catalog.models import Environment, Team

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", "bench@example.com", "x" * 20)
    _, token = token_create(user=user, name="bench")
    teams = Team.objects.bulk_create(
        Team(slug=f"team-{n:03d}", name=f"Team {n}") for n in range(400)
    )
    environments = [
        Environment.objects.create(slug=s, name=s.title(), aws_account_id="123456789012", order=i)
        for i, s in enumerate(["dev", "staging", "prod"])
    ]
    rng = random.Random(11)
    gunicorn = start_gunicorn(args.port)
    global SERVER_PID
    SERVER_PID = gunicorn.pid
    load_before = os.getloadavg()
    print(
        f"gunicorn as `make run` (portal/gunicorn.conf.py) on :{args.port}, CONN_MAX_AGE=60, "
        f"PostgreSQL; load {load_before}"
    )
    try:
        done = 0
        for size in sorted(args.sizes):
            started = time.monotonic()
            fill(done, size, rng=rng, teams=teams, environments=environments)
            done = size
            print(f"\n{size:,} services (filled in {time.monotonic() - started:.1f} s)")
            client = Client(args.port, token)
            print(f"{'':30} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8} {'bytes':>8}  vs Backstage")
            for row in run_size(client, size, args.requests):
                versus = ""
                if (row["name"], size) in BACKSTAGE:
                    stat, ms = BACKSTAGE[(row["name"], size)]
                    versus = f"{stat} {row[stat] / ms:.2f}× of Backstage's {ms:g} ms"
                print(
                    f"{row['name']:30} {row['p50']:8.1f} {row['p95']:8.1f} {row['cpu']:8.2f} "
                    f"{row['bytes']:8}  "
                    f"{versus}"
                )
        print(f"\nload average before {load_before}, after {os.getloadavg()}")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=10)
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
