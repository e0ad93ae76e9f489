"""Benchmark the catalog pages under gunicorn, as `make run` serves them, up to 50,000 services.

    .venv/bin/python bench/catalog.py [--sizes 1000,5000,20000,50000] [--requests 60] [--keep]

Creates a PostgreSQL database of its own (slipway_bench_catalog, dropped at the end unless
--keep), migrates it, starts gunicorn with the `make run` configuration (portal/gunicorn.conf.py:
2 workers x 8 threads, WhiteNoise) on a free port, and for each size bulk-fills the catalog up
to it (200 teams, ~2.3 instances and ~2.3 deployments per service), runs `VACUUM ANALYZE`, and times
four pages over one keep-alive HTTP connection as a signed-in user:

- the first page of the catalog;
- a search (`q=ledger`, which matches ~10 % of the services);
- the owner (team) filter;
- a deep page: page 100 reached by its keyset cursor, as "Next page" links to it.

"Cold": every timed request follows a catalog write (`service_update` through the catalog
services, untimed), which invalidates every cached filter count: a search recomputes its
counts (GIN-indexed match set), the other pages read the catalog-wide counts PostgreSQL's
triggers keep (catalog.facets, migration 0010). "Warm": the same request again, counts cached.
It prints p50/p95 (client side, wall clock), the p95's ratio to the 25 ms goal, and the load
average beside it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]  # bench/catalog.py
sys.path.insert(0, str(ROOT))  # would shadow the catalog app otherwise
from bench._proc import children_cpu_seconds  # noqa: E402 — after the path is set

DB_NAME = os.environ.get("SLIPWAY_BENCH_DB", "slipway_bench_catalog")
SERVER = "postgres://postgres@127.0.0.1:5432"
os.environ.update(
    DATABASE_URL=f"{SERVER}/{DB_NAME}",
    DJANGO_SETTINGS_MODULE="portal.settings",
    DEBUG="0",  # as `make run`
    SLIPWAY_SECURE_COOKIES="0",
    REDIS_URL=os.environ.get("SLIPWAY_BENCH_REDIS", "redis://127.0.0.1:6379/13"),
    CACHE_KEY_PREFIX="slipway-bench-catalog",
    LOG_LEVEL="WARNING",
    SLIPWAY_ACCESS_LOG="",
)
GOAL_MS = 25.0

WORDS = (  # noqa: SIM905 — a word list reads better as prose
    "payments ledger search index billing invoice checkout cart orders inventory shipping "
    "tracking email notify sms push auth login session token profile account users avatar "
    "images thumbnails video audio transcode upload storage archive backup export import "
    "report analytics metrics events stream queue scheduler cron batch worker gateway proxy "
    "router cache config flags experiments pricing tax currency fraud risk kyc compliance audit "
    "catalog product reviews ratings recommend ranking feed timeline chat presence maps geo"
).split()
TAGS = "pci gdpr python go java node rust batch realtime internal public tier-1 tier-2".split()  # noqa: SIM905
ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"
STATUSES = ["healthy"] * 80 + ["failed"] * 5 + ["drifted"] * 5 + ["deploying"] * 3 + ["deleted"] * 7


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


def fill(start: int, stop: int, *, rng: random.Random, user, teams, environments) -> None:
    """Bulk-insert services start..stop-1 with their instances and 0–2 deployments each."""
    from django.db import connection

    from catalog.models import Service, ServiceInstance
    from deployments.models import Deployment

    batch = 5000
    for first in range(start, stop, batch):
        numbers = range(first, min(first + batch, stop))
        services = []
        for n in numbers:
            words = rng.sample(WORDS, 2)
            services.append(
                Service(
                    slug=f"{words[0]}-{words[1]}-{n:05d}",
                    name=f"{words[0].title()} {words[1]} {n}",
                    kind=rng.choice(["lambda"] * 5 + ["ecs"] * 4 + ["apigateway"]),
                    owner=teams[n % len(teams)],
                    lifecycle=rng.choice(
                        ["production"] * 6 + ["experimental"] * 3 + ["deprecated"]
                    ),
                    system=rng.choice(WORDS),
                    description=" ".join(rng.sample(WORDS, 8)).capitalize() + ".",
                    tags=rng.sample(TAGS, rng.randint(0, 3)),
                )
            )
        services = Service.objects.bulk_create(services, batch_size=1000)
        instances = []
        for service in services:
            for env, share in zip(environments, (1.0, 0.7, 0.6), strict=False):
                if rng.random() < share:
                    instances.append(
                        ServiceInstance(
                            service=service,
                            environment=env,
                            status=rng.choice(STATUSES),
                            resources={"function": f"{ARN_PREFIX}{service.slug}-{env.slug}"},
                        )
                    )
        instances = ServiceInstance.objects.bulk_create(instances, batch_size=1000)
        deployments = [
            Deployment(
                instance=instance,
                action="update",
                spec={"memory_size": 128},
                status="succeeded",
                requested_by=user,
            )
            for instance in instances
            for _ in range(rng.randint(0, 2))
        ]
        Deployment.objects.bulk_create(deployments, batch_size=1000)
    with connection.cursor() as cursor:
        # created_at is auto_now_add: spread it (one statement) so the date sorts mean something.
        cursor.execute(
            "UPDATE catalog_service SET created_at = now() - (%s - id) * interval '1 minute' "
            "WHERE id > %s",
            [stop + 1, start],
        )
        # That UPDATE leaves a dead copy of every row and a GIN pending list as long as the
        # catalog, which autovacuum clears within a minute or two on a live database. VACUUM
        # now, so the pages are timed on the steady state, not on the bench's own fill.
        cursor.execute("VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    """gunicorn exactly as the Procfile's `web` starts it, on `port`."""
    env = {**os.environ, "SLIPWAY_PORT": str(port)}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--config", "portal/gunicorn.conf.py", "portal.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    sys.exit("gunicorn did not start within 60 s")


class Browser:
    """One keep-alive connection with a session cookie, like a browser tab."""

    def __init__(self, port: int, cookie: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Cookie": cookie}

    def get(self, url: str) -> tuple[int, bytes]:
        try:
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closed the idle connection (keep-alive timeout) while the bench was
            # filling the catalog; a browser reconnects too.
            self.conn.close()
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        return response.status, response.read()


def write(user, service) -> None:
    """A catalog write through the catalog services, as a person saving Settings makes."""
    from catalog import services as catalog_services

    service.description = f"{service.description.split(' #')[0]} #{time.perf_counter_ns()}"
    catalog_services.service_update(
        service=service,
        user=user,
        name=service.name,
        description=service.description,
        lifecycle=service.lifecycle,
        tags=service.tags,
    )


SERVER_PID = 0  # gunicorn's master; its workers' CPU time is read from /proc


def measure(browser: Browser, url: str, requests: int, *, user, service) -> dict:
    for _ in range(5):  # warm templates, connections, PostgreSQL's buffers
        status, _body = browser.get(url)
        assert status == 200, (url, status)
    result = {}
    for mode in ("cold", "warm"):
        times, cpu = [], 0.0
        for _ in range(requests):
            if mode == "cold":
                write(user, service)  # every cached count is invalid after it
            cpu_before = children_cpu_seconds(SERVER_PID)
            started = time.perf_counter()
            browser.get(url)
            times.append((time.perf_counter() - started) * 1000)
            cpu += children_cpu_seconds(SERVER_PID) - cpu_before
        result[f"{mode} cpu"] = cpu * 1000 / requests
        times.sort()
        result[f"{mode} p50"] = statistics.median(times)
        result[f"{mode} p95"] = times[max(0, int(len(times) * 0.95) - 1)]
    _status, body = browser.get(url)
    result["kb"] = len(body) / 1024
    result["rows"] = body.count(b'class="service-name"')
    return result


def scenarios() -> dict[str, str]:
    from catalog.models import Service
    from catalog.selectors import PAGE_SIZE

    count = Service.objects.count()
    position = min(99 * PAGE_SIZE, count - PAGE_SIZE) - 1  # the slug that ends page 99
    cursor = Service.objects.order_by("slug").values_list("slug", flat=True)[position]
    return {
        "first page": "/catalog/",
        "search 'ledger'": "/catalog/?q=ledger",
        "owner filter": "/catalog/?team=team-007",
        "page 100": f"/catalog/?after={cursor}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000,50000")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from catalog import services as catalog_services
    from catalog.facets import catalog_changed
    from catalog.models import Environment, Service

    server = None
    try:
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create_user("bench", password="x")
        teams = [
            catalog_services.team_create(slug=f"team-{i:03d}", name=f"Team {i:03d}")
            for i in range(200)
        ]
        catalog_services.membership_add(team=teams[7], user=user)
        environments = [
            Environment.objects.create(
                slug=slug, name=name, aws_account_id="123456789012", order=order
            )
            for order, (slug, name) in enumerate(
                [("dev", "Development"), ("staging", "Staging"), ("prod", "Production")]
            )
        ]
        client = Client()
        client.force_login(user)  # a real session row; gunicorn reads the same database
        name = settings.SESSION_COOKIE_NAME
        cookie = f"{name}={client.cookies[name].value}"
        port = free_port()
        server = start_gunicorn(port)
        global SERVER_PID
        SERVER_PID = server.pid
        browser = Browser(port, cookie)
        rng = random.Random(42)
        results, loads = {}, {}
        filled = 0
        for size in sizes:
            started = time.perf_counter()
            fill(filled, size, rng=rng, user=user, teams=teams, environments=environments)
            filled = size
            catalog_changed()  # (the triggers counted the bulk inserts; only SQLite needs it)
            print(f"filled {size:,} services in {time.perf_counter() - started:.1f}s", flush=True)
            target = Service.objects.filter(owner=teams[7]).select_related("owner").first()
            results[size] = {
                name: measure(browser, url, args.requests, user=user, service=target)
                for name, url in scenarios().items()
            }
            loads[size] = os.getloadavg()
            worst = max(r["cold p95"] for r in results[size].values())
            print(f"  worst cold p95 {worst:.1f} ms, load {loads[size][0]:.2f}", flush=True)
        report(results, loads)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if not args.keep:
            drop_database()


def report(results: dict, loads: dict) -> None:
    print()
    print(
        f"{'page':16} {'services':>8} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} "
        f"{'warm p95':>9} {'cpu cold':>8} {'cpu warm':>8} {'KB':>5} {'rows':>4} "
        f"{'p95/goal':>8} {'load 1m':>7}"
    )
    names = next(iter(results.values())).keys()
    for name in names:
        for size, by_name in results.items():
            r = by_name[name]
            print(
                f"{name:16} {size:>8,} {r['cold p50']:>9.1f} {r['cold p95']:>9.1f} "
                f"{r['warm p50']:>9.1f} {r['warm p95']:>9.1f} {r['cold cpu']:>8.1f} "
                f"{r['warm cpu']:>8.1f} {r['kb']:>5.1f} {r['rows']:>4} "
                f"{r['cold p95'] / GOAL_MS:>7.2f}x {loads[size][0]:>7.2f}"
            )
    worst = max(r["cold p95"] for by_name in results.values() for r in by_name.values())
    met = "met" if worst < GOAL_MS else "NOT met"
    load = os.getloadavg()
    print(
        f"worst p95 (counts recomputed) {worst:.1f} ms: goal < {GOAL_MS:.0f} ms at every size "
        f"{met} ({worst / GOAL_MS:.2f}x); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs; gunicorn as `make run` starts it, times in ms, client side"
    )
    worst_cpu = max(r["cold cpu"] for by_name in results.values() for r in by_name.values())
    print(
        f"worst gunicorn CPU per request (mean, counts recomputed) {worst_cpu:.1f} ms: the "
        "server's own cost, which a busy machine queues behind other work"
    )


if __name__ == "__main__":
    main()
