"""Benchmark the catalog page at 50,000 services, against a 1,000-service baseline.

    .venv/bin/python bench/catalog.py [--services 50000] [--baseline 1000] [--requests 60] [--keep]

Creates a PostgreSQL database of its own (postgres://postgres@127.0.0.1:5432/slipway_bench_catalog,
dropped at the end unless --keep), migrates it, bulk-fills teams, services, instances and
deployments, and requests pages through the whole middleware stack with django.test.Client as a
signed-in user: the catalog's first page, a search, a facet filter and the 100th page (reached
by its keyset cursor, as "Next page" would). For each it prints p50/p95 server time, response
size and query count, first with the baseline catalog and then the full one, and the ratio of
the two p95s (machines are noisy; the ratio is what should stay near 1).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("SLIPWAY_BENCH_DB", "slipway_bench_catalog")
SERVER = "postgres://postgres@127.0.0.1:5432"
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
os.environ["DEBUG"] = "0"
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ.setdefault("CACHE_KEY_PREFIX", "slipway-bench")

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
    """Bulk-insert services start..stop-1 with instances and 0–3 deployments each."""
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Service, ServiceInstance
    from deployments.models import Deployment

    now = timezone.now()
    batch = 2000
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
        services = Service.objects.bulk_create(services)
        # created_at is auto_now_add; spread it so the newest/oldest sorts mean something.
        for service, n in zip(services, numbers, strict=True):
            service.created_at = now - timedelta(minutes=stop - n)
        Service.objects.bulk_update(services, ["created_at"])
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
        instances = ServiceInstance.objects.bulk_create(instances)
        deployments = []
        for instance in instances:
            for _ in range(rng.randint(0, 2)):
                deployments.append(
                    Deployment(
                        instance=instance,
                        action="update",
                        spec={"memory_size": 128},
                        status="succeeded",
                        requested_by=user,
                    )
                )
        Deployment.objects.bulk_create(deployments)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def measure(client, url: str, requests: int) -> dict:
    """Time `url`: cold (facet counts recomputed every time) and warm (facet cache hit)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.search import catalog_changed

    for _ in range(5):  # warm templates, connections, PostgreSQL's buffers
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    result = {}
    for mode in ("cold", "warm"):
        times = []
        for _ in range(requests):
            if mode == "cold":
                catalog_changed()  # as after a catalog write: nothing cached to reuse
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        result[f"{mode} p50"] = statistics.median(times)
        result[f"{mode} p95"] = times[max(0, int(len(times) * 0.95) - 1)]
    catalog_changed()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    result["kb"] = len(response.content) / 1024
    result["queries"] = len(queries)
    result["rows"] = response.content.count(b'class="service-name"')
    return result


def scenarios(search_word: str) -> dict[str, str]:
    from catalog.models import Service
    from catalog.selectors import PAGE_SIZE

    # The 100th page: what "Next page" links to after 99 pages, i.e. after the slug that ends
    # page 99 (the baseline catalog is smaller: its last page, same keyset query).
    count = Service.objects.count()
    position = min(99 * PAGE_SIZE, count - PAGE_SIZE) - 1
    cursor = Service.objects.order_by("slug").values_list("slug", flat=True)[position]
    return {
        "catalog page": "/catalog/",
        f"search '{search_word}'": f"/catalog/?q={search_word}",
        "facet status=failed": "/catalog/?status=failed",
        "facet team+kind": "/catalog/?team=team-007&kind=ecs",
        "100th page": f"/catalog/?after={cursor}",
    }


def run(client, requests: int) -> dict[str, dict]:
    return {name: measure(client, url, requests) for name, url in scenarios("ledger").items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=50_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from catalog import services as catalog_services
    from catalog.models import Environment
    from catalog.search import catalog_changed

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
        client.force_login(user)
        rng = random.Random(42)
        results = {}
        filled = 0
        for size in (args.baseline, args.services):
            started = time.perf_counter()
            fill(filled, size, rng=rng, user=user, teams=teams, environments=environments)
            filled = size
            catalog_changed()  # bulk_create skips the services that would invalidate the cache
            print(f"filled {size:,} services in {time.perf_counter() - started:.1f}s", flush=True)
            results[size] = run(client, args.requests)
        report(results, args.baseline, args.services)
    finally:
        if not args.keep:
            drop_database()


def report(results: dict, baseline: int, full: int) -> None:
    print()
    print(
        f"{'scenario':22} {'services':>8} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} "
        f"{'warm p95':>9} {'KB':>5} {'queries':>7} {'rows':>4} {'cold p95 ratio':>14}"
    )
    for name in results[full]:
        base = results[baseline][name]
        for size in (baseline, full):
            r = results[size][name]
            ratio = f"{r['cold p95'] / base['cold p95']:.2f}x" if size == full else ""
            print(
                f"{name:22} {size:>8,} {r['cold p50']:>9.1f} {r['cold p95']:>9.1f} "
                f"{r['warm p50']:>9.1f} {r['warm p95']:>9.1f} {r['kb']:>5.1f} "
                f"{r['queries']:>7} {r['rows']:>4} {ratio:>14}"
            )
    for mode in ("cold", "warm"):
        worst = max(r[f"{mode} p95"] for r in results[full].values())
        print(f"at {full:,} services, {mode}: worst p95 {worst:.1f} ms (goal < 100)")
    biggest = max(r["kb"] for r in results[full].values())
    print(f"largest page {biggest:.1f} KB (goal < 100); times in ms, through the full stack")


if __name__ == "__main__":
    main()
