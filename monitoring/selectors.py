"""Reads for monitoring pages: metrics (one cached GetMetricData), deploy markers, summaries.

Logs live in monitoring.logs and alarm reads in monitoring.alarms, each a module of its own.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from django.core.cache import cache
from django.utils.html import json_script

from catalog.models import ServiceInstance
from deployments.models import Deployment
from monitoring import charts, queries
from monitoring.targets import target_for
from portal.aws import aws_client, error_message

# "At least 60 s": a refresh within a minute (same aligned window) never reaches AWS.
METRICS_CACHE_SECONDS = 60
SUMMARY_WINDOW_SECONDS = 900


@dataclass
class PanelView:
    key: str
    title: str
    unit: str
    svg: str
    series: list[charts.SeriesData]
    data: dict  # what the chart shows, as JSON for tests and scripts

    @property
    def data_script(self) -> str:
        return json_script(self.data, f"chart-data-{self.key}")


@dataclass
class MetricsPage:
    range_key: str
    start: int
    end: int
    period: int
    panels: list[PanelView] = field(default_factory=list)
    markers: list[charts.Marker] = field(default_factory=list)
    error: str = ""
    cached: bool = False


def _cache_key(prefix: str, instance: ServiceInstance, payload: object) -> str:
    env = instance.environment
    raw = json.dumps([env.aws_account_id, env.region, payload], sort_keys=True, default=str)
    return f"monitoring:{prefix}:{hashlib.sha256(raw.encode()).hexdigest()}"


def metric_data(
    *, instance: ServiceInstance, metric_queries: list[dict], start: int, end: int
) -> tuple[dict[str, list[tuple[int, float]]], bool]:
    """{query id: [(epoch, value), ...]} from ONE GetMetricData call, or from the cache.

    Returns (data, cached). The result is cached per (account, region, queries, window).
    Raises ClientError/BotoCoreError when AWS refuses; callers turn that into a message.
    """
    if not metric_queries:
        return {}, False
    key = _cache_key("gmd", instance, [metric_queries, start, end])
    hit = cache.get(key)
    if hit is not None:
        return hit, True
    # Our windows stay under GetMetricData's 100,800 data points per call (≤ 360 points per
    # series), so there is never a NextToken to follow.
    response = aws_client("cloudwatch", environment=instance.environment).get_metric_data(
        MetricDataQueries=metric_queries,
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    data = {
        result["Id"]: sorted(
            (int(ts.timestamp()), float(value))
            for ts, value in zip(result["Timestamps"], result["Values"], strict=False)
        )
        for result in response["MetricDataResults"]
    }
    cache.set(key, data, METRICS_CACHE_SECONDS)
    return data, False


def deployment_markers(*, instance: ServiceInstance, start: int, end: int) -> list[charts.Marker]:
    """Deployments and scale events of `instance` in the window, as chart markers."""
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(start, tz=UTC)
    rows = (
        Deployment.objects.filter(instance=instance, started_at__isnull=False)
        .filter(started_at__gte=since)
        .select_related("requested_by")
        .order_by("started_at")
    )
    markers = []
    for d in rows:
        at = d.finished_at or d.started_at
        kind = "scale" if d.action == Deployment.Action.SCALE else "deploy"
        if d.status in (Deployment.Status.FAILED, Deployment.Status.ROLLED_BACK):
            kind = "failed"
        markers.append(
            charts.Marker(
                at=int(at.timestamp()),
                label=f"{'scale' if kind == 'scale' else 'deploy'} #{d.pk}",
                title=(
                    f"Deployment #{d.pk} ({d.action}) {d.get_status_display().lower()} at "
                    f"{at:%Y-%m-%d %H:%M} UTC, requested by {d.requested_by.get_username()}"
                ),
                kind=kind,
            )
        )
    return [m for m in markers if m.at <= end]


def metrics_page(
    *, instance: ServiceInstance, range_key: str, now: float | None = None
) -> MetricsPage:
    """Every chart of one instance for `range_key`, from a single (cached) GetMetricData."""
    if range_key not in queries.RANGES:
        range_key = queries.DEFAULT_RANGE
    start, end, period = queries.window(range_key, now or time.time())
    target = target_for(instance)
    panels = queries.panels_for(target)
    page = MetricsPage(range_key=range_key, start=start, end=end, period=period)
    page.markers = deployment_markers(instance=instance, start=start, end=end)
    data: dict = {}
    try:
        data, page.cached = metric_data(
            instance=instance,
            metric_queries=queries.metric_queries(target, panels, period),
            start=start,
            end=end,
        )
    except (ClientError, BotoCoreError) as exc:
        page.error = f"CloudWatch did not answer: {error_message(exc)}"
    for p, panel in enumerate(panels):
        series = [
            charts.SeriesData(
                label=s.label,
                stat=s.stat,
                points=data.get(queries.query_id(p, i), []),
                unavailable=s.unavailable,
            )
            for i, s in enumerate(panel.series)
        ]
        svg = charts.render_svg(
            title=panel.title,
            unit=panel.unit,
            series=[s for s in series if not s.unavailable],
            markers=page.markers,
            start=start,
            end=end,
            period=period,
        )
        page.panels.append(
            PanelView(
                key=panel.key,
                title=panel.title,
                unit=panel.unit,
                svg=svg,
                series=series,
                data={
                    "unit": panel.unit,
                    "series": [
                        {"label": s.label, "stat": s.stat, "points": s.points} for s in series
                    ],
                    "markers": [{"at": m.at, "label": m.label} for m in page.markers],
                },
            )
        )
    return page


# --- summary strip (catalog list and service overview) -------------------------------------------
@dataclass(frozen=True)
class Summary:
    label: str  # "errors" or "CPU"
    value: str  # "2.5 %" or "no data"
    state: str  # worst alarm state: OK | ALARM | INSUFFICIENT_DATA | "" (no alarms)
    environment: str  # slug, so a cached strip renders with no query
    error: str = ""


# kind → (label, numerator metric, denominator metric or None for a plain average)
_SUMMARY_METRICS = {
    "lambda": ("errors", ("AWS/Lambda", "Errors", "Sum"), ("AWS/Lambda", "Invocations", "Sum")),
    "ecs": ("CPU", ("AWS/ECS", "CPUUtilization", "Average"), None),
    "apigateway": (
        "5xx",
        ("AWS/ApiGateway", "5XXError", "Sum"),
        ("AWS/ApiGateway", "Count", "Sum"),
    ),
    "dynamodb": ("throttled", ("AWS/DynamoDB", "WriteThrottleEvents", "Sum"), None),
    "sns": (
        "failed",
        ("AWS/SNS", "NumberOfNotificationsFailed", "Sum"),
        ("AWS/SNS", "NumberOfNotificationsDelivered", "Sum"),
    ),
    "stepfunctions": (
        "failed",
        ("AWS/States", "ExecutionsFailed", "Sum"),
        ("AWS/States", "ExecutionsStarted", "Sum"),
    ),
}


def _summary_cache_key(instance: ServiceInstance) -> str:
    return f"monitoring:summary:{instance.pk}"


def summaries_by_pk(pks) -> dict[int, Summary]:
    """The cached summaries of many instances by pk, in one cache round trip (list pages)."""
    keys = {f"monitoring:summary:{pk}": pk for pk in pks}
    return {keys[key]: summary for key, summary in cache.get_many(list(keys)).items()}


def summary_cached(*, instance: ServiceInstance) -> Summary | None:
    """The summary if one was computed in the last minute (no AWS call), else None.

    List pages call `summaries_prefetch` first, so this reads no cache per row.
    """
    if hasattr(instance, "_prefetched_summary"):
        return instance._prefetched_summary
    return cache.get(_summary_cache_key(instance))


def summaries_prefetch(instances) -> None:
    """Read the cached summaries of many instances in one cache round trip (list pages)."""
    instances = list(instances)
    found = cache.get_many([_summary_cache_key(i) for i in instances])
    for instance in instances:
        instance._prefetched_summary = found.get(_summary_cache_key(instance))


def instance_summary(*, instance: ServiceInstance) -> Summary:
    """Current error rate (Lambda, API) or CPU (ECS) over 15 minutes, with the alarm state.

    One GetMetricData and one DescribeAlarms, cached a minute. The rate is computed here, not
    with metric math, which the embedded emulator answers with nothing.
    """
    from monitoring import alarms
    from monitoring.services import alarm_states_record

    cached = summary_cached(instance=instance)
    if cached is not None:
        return cached
    label, numerator, denominator = _SUMMARY_METRICS[instance.service.kind]
    target = target_for(instance)
    end = (int(time.time()) // 60 + 1) * 60
    start = end - SUMMARY_WINDOW_SECONDS
    metric_queries = [
        {
            "Id": f"m{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": ns,
                    "MetricName": name,
                    "Dimensions": target.dimensions.get(ns, []),
                },
                "Period": SUMMARY_WINDOW_SECONDS,
                "Stat": stat,
            },
        }
        for i, (ns, name, stat) in enumerate(m for m in (numerator, denominator) if m)
    ]
    try:
        data, _ = metric_data(
            instance=instance, metric_queries=metric_queries, start=start, end=end
        )
        states = alarms.alarm_states(instance=instance)
    except (ClientError, BotoCoreError) as exc:
        return Summary(
            label=label,
            value="unavailable",
            state="",
            environment=instance.environment.slug,
            error=error_message(exc),
        )
    alarm_states_record(instance=instance, states=states)
    top = sum(v for _, v in data.get("m0", []))
    if denominator is None and instance.service.kind == "dynamodb":
        value = f"{top:g} in 1 h" if data.get("m0") else "none"
    elif denominator is None:
        points = data.get("m0", [])
        value = charts.format_value(points[-1][1], "%") if points else "no data"
    else:
        bottom = sum(v for _, v in data.get("m1", []))
        value = f"{top / bottom * 100:.1f} %" if bottom else "no traffic"
    summary = Summary(
        label=label,
        value=value,
        state=alarms.worst_state([s.state for s in states.values()]),
        environment=instance.environment.slug,
    )
    cache.set(_summary_cache_key(instance), summary, METRICS_CACHE_SECONDS)
    return summary


def embedded_mode() -> bool:
    """True when boto3 talks to the embedded emulator (pages then explain its limits)."""
    from portal.aws import is_emulator

    return is_emulator()
