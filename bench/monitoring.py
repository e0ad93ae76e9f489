"""Benchmark a service's Metrics page: one batched GetMetricData vs one call per metric.

    .venv/bin/python bench/monitoring.py [--requests 20] [--minutes 60]

Starts its own emulator and PostgreSQL database (slipway_bench_monitoring, dropped at the end),
deploys nothing: it creates a Lambda, an ECS (with a load balancer) and an API Gateway service,
writes `--minutes` of demo traffic for each, then requests each Metrics page through the whole
Django stack (django.test.Client, signed in) in three ways, in this same process:
- batched, cold cache: Slipway as shipped, one GetMetricData for every chart;
- batched, cached refresh: the same page again within the minute (no AWS call expected);
- naive baseline: the same page with the data fetched one GetMetricStatistics call per series.
It prints AWS calls per page and p50/p95 server time, and the naive/batched ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("SLIPWAY_BENCH_DB", "slipway_bench_monitoring")
import _setup  # noqa: E402 — sets the environment before Django loads


def wipe_monitoring_cache() -> None:
    from django.conf import settings
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    for key in client.scan_iter(match=f"{prefix}:*:monitoring:*"):
        client.delete(key)


def naive_metric_data(*, instance, metric_queries, start, end):
    """The baseline: one GetMetricStatistics call per series, as a first version might do."""
    from datetime import UTC, datetime

    from portal.aws import aws_client

    cloudwatch = aws_client("cloudwatch", environment=instance.environment)
    data = {}
    for query in metric_queries:
        stat = query["MetricStat"]
        response = cloudwatch.get_metric_statistics(
            Namespace=stat["Metric"]["Namespace"],
            MetricName=stat["Metric"]["MetricName"],
            Dimensions=stat["Metric"]["Dimensions"],
            StartTime=datetime.fromtimestamp(start, tz=UTC),
            EndTime=datetime.fromtimestamp(end, tz=UTC),
            Period=stat["Period"],
            Statistics=[stat["Stat"]],
        )
        data[query["Id"]] = sorted(
            (int(p["Timestamp"].timestamp()), float(p[stat["Stat"]]))
            for p in response["Datapoints"]
        )
    return data, False


def fixtures(minutes: int):
    from django.contrib.auth import get_user_model

    from catalog import services as catalog_services
    from catalog.models import Environment, ServiceInstance
    from monitoring import demo

    user = get_user_model().objects.create_user("bench", is_staff=True)
    team = catalog_services.team_create(slug="bench", name="Bench")
    env = Environment.objects.create(
        slug="dev",
        name="Development",
        aws_account_id="123456789012",
        alb_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shared/0123456789abcdef",
    )
    resources = {
        "lambda": {},
        "ecs": {
            "service_arn": "arn:aws:ecs:us-east-1:123456789012:service/slipway-dev/web-dev",
            "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
            "targetgroup/web-dev/fedcba9876543210",
        },
        "apigateway": {},
    }
    slugs = {"lambda": "orders", "ecs": "web", "apigateway": "edge"}
    for kind, slug in slugs.items():
        service = catalog_services.service_create(user=user, owner=team, slug=slug, kind=kind)
        instance = catalog_services.instance_get_or_create(service=service, environment=env)
        instance.status = ServiceInstance.Status.HEALTHY
        instance.resources = resources[kind]
        instance.save()
        demo.demo_traffic_write(instance=instance, backfill_minutes=minutes)
    return user, slugs


def measure(client, url: str, requests: int, *, cold: bool) -> dict:
    from portal.aws import call_counts

    times, calls, gmd = [], [], []
    for _ in range(requests):
        if cold:
            wipe_monitoring_cache()
        before = call_counts()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        delta = call_counts() - before
        calls.append(sum(v for (svc, _), v in delta.items() if svc == "cloudwatch"))
        gmd.append(
            delta[("cloudwatch", "GetMetricData")] + delta[("cloudwatch", "GetMetricStatistics")]
        )
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "metric_calls": max(gmd),
        "cloudwatch_calls": max(calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()

    proc, url = _setup.start_emulator()
    try:
        os.environ["ALLOWED_HOSTS"] = "testserver"
        _setup.setup_django()
        from django.test import Client
        from django.urls import reverse

        from monitoring import selectors

        wipe_monitoring_cache()
        user, slugs = fixtures(args.minutes)
        client = Client()
        client.force_login(user)
        print(f"Emulator {url}; {args.minutes} min of demo traffic; {args.requests} requests each")
        header = (
            f"{'page':<22}{'mode':<24}{'metric calls':>13}{'CW calls':>10}"
            f"{'p50 ms':>9}{'p95 ms':>9}"
        )
        print(header)
        print("-" * len(header))
        real = selectors.metric_data
        for kind, slug in slugs.items():
            page = reverse("monitoring:metrics", args=[slug])
            client.get(page)  # warm imports and templates
            batched = measure(client, page, args.requests, cold=True)
            cached = measure(client, page, args.requests, cold=False)
            selectors.metric_data = naive_metric_data
            try:
                naive = measure(client, page, args.requests, cold=True)
            finally:
                selectors.metric_data = real
            for mode, r in (
                ("batched (cold cache)", batched),
                ("batched (cached refresh)", cached),
                ("naive, 1 call/metric", naive),
            ):
                print(
                    f"{kind + ' ' + slug:<22}{mode:<24}{r['metric_calls']:>13}"
                    f"{r['cloudwatch_calls']:>10}{r['p50']:>9.1f}{r['p95']:>9.1f}"
                )
            print(
                f"{'':<22}{'ratio naive/batched':<24}"
                f"{naive['metric_calls'] / max(batched['metric_calls'], 1):>12.1f}x"
                f"{'':>10}{naive['p50'] / batched['p50']:>8.2f}x"
            )
    finally:
        wipe_monitoring_cache()
        from django.db import connections

        connections.close_all()
        proc.terminate()
        proc.wait(timeout=10)
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{_setup.DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
