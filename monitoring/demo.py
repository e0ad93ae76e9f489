"""DEMO TRAFFIC for embedded mode: plausible metric points and log lines for deployed services.

Nothing runs inside the emulator, so without this every chart would be empty. It writes, per
deployed instance and per minute: the kind's metrics (with an error spike in the ten minutes
after each deployment) and a few log lines (some JSON, errors during the spike), all tagged as
demo traffic. It refuses to run unless boto3 points at the emulator (`aws.is_emulator()`): it must
never write made-up data into a real account.

Kept small on purpose: the emulator's GetMetricData slows with stored points × buckets.
"""

from __future__ import annotations

import json
import math
import random
import time
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError
from django.core.cache import cache

from catalog.models import ServiceInstance
from deployments.models import Deployment
from monitoring.targets import target_for
from portal.aws import aws_client, error_code, is_emulator

DEMO_STREAM = "slipway-demo-traffic"
SPIKE_MINUTES = 10
MAX_BACKFILL_MINUTES = 180


class NotEmbedded(RuntimeError):
    """Demo traffic was asked for against real AWS."""


def _spiking(deploy_times: list[float], minute: int) -> bool:
    return any(0 <= minute - t < SPIKE_MINUTES * 60 for t in deploy_times)


def _metrics(kind: str, dims: dict, rng: random.Random, spike: bool, minute: int) -> list[tuple]:
    """[(namespace, metric, dimensions, value, unit)] for one minute of one instance."""
    wave = 1 + 0.3 * math.sin(minute / 900)  # a slow daily-ish swell
    if kind == "lambda":
        ns, d = "AWS/Lambda", dims["AWS/Lambda"]
        calls = int(rng.randint(40, 60) * wave)
        errors = int(calls * rng.uniform(0.2, 0.4)) if spike else rng.choice([0, 0, 0, 1])
        return [
            (ns, "Invocations", d, calls, "Count"),
            (ns, "Errors", d, errors, "Count"),
            (ns, "Duration", d, rng.uniform(80, 140) * (2.5 if spike else 1), "Milliseconds"),
            (ns, "Throttles", d, 0, "Count"),
            (ns, "ConcurrentExecutions", d, rng.randint(1, 4), "Count"),
        ]
    if kind == "ecs":
        ns, d = "AWS/ECS", dims["AWS/ECS"]
        points = [
            (ns, "CPUUtilization", d, rng.uniform(20, 35) * wave + (45 if spike else 0), "Percent"),
            (ns, "MemoryUtilization", d, rng.uniform(40, 48), "Percent"),
        ]
        if "AWS/ApplicationELB" in dims:
            elb, e = "AWS/ApplicationELB", dims["AWS/ApplicationELB"]
            requests = int(rng.randint(100, 140) * wave)
            points += [
                (elb, "RequestCount", e, requests, "Count"),
                (elb, "HTTPCode_Target_5XX_Count", e, int(requests * 0.2) if spike else 0, "Count"),
                (elb, "TargetResponseTime", e, rng.uniform(0.04, 0.09), "Seconds"),
            ]
        return points
    ns, d = "AWS/ApiGateway", dims["AWS/ApiGateway"]
    count = int(rng.randint(80, 120) * wave)
    return [
        (ns, "Count", d, count, "Count"),
        (ns, "4XXError", d, rng.randint(0, 3), "Count"),
        (ns, "5XXError", d, int(count * 0.15) if spike else 0, "Count"),
        (ns, "Latency", d, rng.uniform(30, 60) * (3 if spike else 1), "Milliseconds"),
    ]


def _log_lines(service: str, rng: random.Random, spike: bool, minute: int) -> list[dict]:
    lines = []
    for second in sorted(rng.sample(range(60), 3)):
        ts = (minute + second) * 1000
        if spike and second % 2 == 0:
            message = json.dumps(
                {
                    "level": "ERROR",
                    "demo": True,
                    "message": "payment provider timed out",
                    "service": service,
                    "latency_ms": rng.randint(900, 3000),
                }
            )
        elif second % 3 == 0:
            message = json.dumps(
                {"level": "INFO", "demo": True, "message": "request handled", "status": 200}
            )
        else:
            message = f"[demo traffic] INFO GET /orders/{rng.randint(1000, 9999)} 200"
        lines.append({"timestamp": ts, "message": message})
    return lines


def _ensure_log_stream(logs, group: str) -> None:
    for call, kwargs in (
        (logs.create_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": DEMO_STREAM}),
    ):
        try:
            call(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise


def demo_traffic_write(
    *, instance: ServiceInstance, backfill_minutes: int = 60, now: float | None = None
) -> int:
    """Write the minutes of demo traffic `instance` has not had yet; returns minutes written.

    The last written minute is kept in the cache, so the beat task and the command never write
    a minute twice (CloudWatch would add the values up).
    """
    if not is_emulator():
        raise NotEmbedded("Demo traffic is for the embedded emulator only, never real AWS.")
    now_minute = int(now or time.time()) // 60 * 60
    marker = f"monitoring:demo:last:{instance.pk}:{instance.environment.aws_account_id}"
    last = cache.get(marker)
    backfill = min(backfill_minutes, MAX_BACKFILL_MINUTES)
    first = max(last + 60 if last else now_minute - (backfill - 1) * 60, now_minute - backfill * 60)
    minutes = list(range(first, now_minute + 1, 60))
    if not minutes:
        return 0
    target = target_for(instance)
    since = datetime.fromtimestamp(first - SPIKE_MINUTES * 60, tz=UTC) - timedelta(minutes=1)
    deploy_times = [
        (d.finished_at or d.started_at).timestamp()
        for d in Deployment.objects.filter(instance=instance, started_at__gte=since)
    ]
    data, lines = [], []
    for minute in minutes:
        rng = random.Random(f"{instance.pk}:{minute}")
        spike = _spiking(deploy_times, minute)
        for ns, name, dims, value, unit in _metrics(
            target.kind, target.dimensions, rng, spike, minute
        ):
            data.append((ns, name, dims, value, unit, minute))
        lines += _log_lines(instance.service.slug, rng, spike, minute)
    cloudwatch = aws_client("cloudwatch", environment=instance.environment)
    by_ns: dict[str, list] = {}
    for ns, name, dims, value, unit, minute in data:
        by_ns.setdefault(ns, []).append(
            {
                "MetricName": name,
                "Dimensions": dims,
                "Timestamp": datetime.fromtimestamp(minute, tz=UTC),
                "Value": float(value),
                "Unit": unit,
            }
        )
    for ns, items in by_ns.items():
        for i in range(0, len(items), 1000):  # PutMetricData takes up to 1,000 items
            cloudwatch.put_metric_data(Namespace=ns, MetricData=items[i : i + 1000])
    logs = aws_client("logs", environment=instance.environment)
    _ensure_log_stream(logs, target.log_group)
    logs.put_log_events(logGroupName=target.log_group, logStreamName=DEMO_STREAM, logEvents=lines)
    cache.set(marker, now_minute, 7 * 86400)
    return len(minutes)


def demo_instances():
    """Instances that have something deployed (the ones whose pages people open)."""
    return ServiceInstance.objects.select_related("service__owner", "environment").exclude(
        status__in=[ServiceInstance.Status.NOT_DEPLOYED, ServiceInstance.Status.DELETED]
    )
