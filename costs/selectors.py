"""Reads for cost estimates: the traffic an estimate assumes, a spec's estimate, team totals.

Traffic comes from the figures typed on the form when there are some; else, for a deployed
Lambda function or API, from last week's CloudWatch metrics (one GetMetricData through the
monitoring app's cached reader), scaled to a month; else none (the page says what that leaves
out).
"""

from __future__ import annotations

import time
from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from pydantic import ValidationError

from catalog.models import Environment, ServiceInstance, Team
from costs.estimate import Difference, Estimate, Traffic, estimate
from costs.models import InstanceCost
from costs.prices import load_prices
from deployments.specs import parse_spec

WEEK_SECONDS = 7 * 24 * 3600
DAY_SECONDS = 24 * 3600
# A month is 730 hours (the price table's month); a week is 168.
WEEKS_PER_MONTH = Decimal(730) / Decimal(168)
YOUR_FIGURES = "your figures"
LAST_WEEK = "CloudWatch, last 7 days"
# After a failed read, the estimate goes without metrics this long (each form change posts an
# estimate: a hanging CloudWatch would otherwise cost every one of them the web timeout).
FAILED_READ_SECONDS = 60
# Per kind: (namespace, metric) of the request count and of the total duration (or None).
TRAFFIC_METRICS = {
    "lambda": (("AWS/Lambda", "Invocations"), ("AWS/Lambda", "Duration")),
    "apigateway": (("AWS/ApiGateway", "Count"), None),
}


def assumptions(*, instance: ServiceInstance | None) -> InstanceCost | None:
    """The instance's stored traffic figures and estimate, if any."""
    if instance is None or instance.pk is None:
        return None
    return InstanceCost.objects.filter(instance=instance).first()


def _last_week(instance: ServiceInstance) -> Traffic | None:
    """Requests and average duration of the last 7 days, scaled to a month; None without data
    (or when CloudWatch cannot be read)."""
    from monitoring.selectors import metric_data
    from monitoring.targets import target_for

    metrics = TRAFFIC_METRICS.get(instance.service.kind)
    if metrics is None or not instance.applied_spec:
        return None
    dimensions = target_for(instance).dimensions
    queries = [
        {
            "Id": f"c{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": ns,
                    "MetricName": name,
                    "Dimensions": dimensions.get(ns, []),
                },
                "Period": DAY_SECONDS,
                "Stat": "Sum",
            },
        }
        for i, (ns, name) in enumerate(m for m in metrics if m)
    ]
    end = (int(time.time()) // DAY_SECONDS + 1) * DAY_SECONDS  # aligned: the cache holds a day
    failed = f"costs:last-week-failed:{instance.pk}:{instance.updated_at.timestamp()}"
    if cache.get(failed):
        return None  # CloudWatch just failed (or hung) for it: the form does not wait again
    try:
        data, _ = metric_data(
            instance=instance, metric_queries=queries, start=end - WEEK_SECONDS, end=end
        )
    except (ClientError, BotoCoreError):
        cache.set(failed, True, FAILED_READ_SECONDS)
        return None
    requests = sum(Decimal(str(v)) for _, v in data.get("c0", []))
    if not requests:
        return None
    duration = None
    if len(queries) > 1:
        total_ms = sum(Decimal(str(v)) for _, v in data.get("c1", []))
        duration = (total_ms / requests).quantize(Decimal("0.1"))
    return Traffic(
        requests_per_month=int(requests * WEEKS_PER_MONTH),
        duration_ms=duration,
        source=LAST_WEEK,
    )


def _alb_services(environment: Environment) -> int:
    """Services routed through the environment's shared load balancer (at least 1)."""
    found = ServiceInstance.objects.filter(
        environment=environment,
        service__kind="ecs",
        applied_spec__load_balancer__isnull=False,
    ).exclude(applied_spec__load_balancer=None)
    return max(found.count(), 1)


def traffic_for(
    *,
    instance: ServiceInstance | None,
    environment: Environment,
    kind: str,
    requests_per_month: int | None = None,
    duration_ms: Decimal | None = None,
    metrics: bool = True,
    stored: bool = True,
) -> Traffic:
    """The traffic an estimate assumes: figures given here, else (with `stored`) the stored
    ones, else (with `metrics`) last week's, else none. A form passes `stored=False`: its
    fields start with the stored figures, so an emptied field means "none"."""
    alb = _alb_services(environment) if kind == "ecs" else 1
    if kind not in TRAFFIC_METRICS:  # ECS: no traffic-priced items (ALB LCUs not counted)
        return Traffic(alb_services=alb)
    if stored and requests_per_month is None and duration_ms is None:
        stored = assumptions(instance=instance)
        if stored is not None:
            requests_per_month, duration_ms = stored.requests_per_month, stored.duration_ms
    if requests_per_month is not None or duration_ms is not None:
        return Traffic(requests_per_month, duration_ms, YOUR_FIGURES, alb)
    if metrics and instance is not None:
        measured = _last_week(instance)
        if measured is not None:
            return Traffic(measured.requests_per_month, measured.duration_ms, LAST_WEEK, alb)
    return Traffic(alb_services=alb)


def spec_estimate(*, spec: dict | None, environment: Environment, traffic: Traffic) -> Estimate:
    """The estimate of a stored or submitted spec dict in `environment`'s region.

    A missing spec (a teardown, or nothing deployed) costs nothing.
    """
    if not spec:
        prices = load_prices().regions.get(environment.region)
        return Estimate(region=environment.region, price_date=prices.as_of if prices else "")
    try:
        typed = parse_spec(spec)
    except ValidationError:
        return Estimate(region=environment.region, unavailable="The spec cannot be read.")
    return estimate(typed, traffic, load_prices(), environment.region)


def deployment_cost(*, deployment, metrics: bool = True) -> Difference:
    """A planned (or past) deployment's monthly cost, and its difference from before it."""
    instance = deployment.instance
    environment = instance.environment
    traffic = traffic_for(
        instance=instance, environment=environment, kind=instance.service.kind, metrics=metrics
    )
    after_spec = None if deployment.action == "delete" else deployment.spec
    after = spec_estimate(spec=after_spec, environment=environment, traffic=traffic)
    before = None
    if deployment.previous_spec:
        before = spec_estimate(
            spec=deployment.previous_spec, environment=environment, traffic=traffic
        )
    return Difference(after=after, before=before, traffic_source=traffic.source)


def team_monthly_total(*, team: Team) -> dict:
    """The estimated monthly cost of everything the team runs: total, instances counted, and
    instances running without a figure (kinds not estimated, regions without prices)."""
    running = ServiceInstance.objects.filter(service__owner=team, applied_spec__isnull=False)
    found = running.aggregate(
        total=Sum("cost__monthly_usd"),
        counted=Count("pk", filter=Q(cost__monthly_usd__isnull=False)),
        instances=Count("pk"),
    )
    return {
        "total": found["total"] or Decimal(0),
        "counted": found["counted"],
        "not_estimated": found["instances"] - found["counted"],
    }
