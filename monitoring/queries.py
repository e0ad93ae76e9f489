"""Which charts a service page shows, per kind, and the GetMetricData queries behind them.

Every panel's series become queries of ONE GetMetricData call (AWS allows 500 per call). Ids are
`q<panel>_<series>` so a result maps straight back to its chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitoring.targets import Target
from portal import aws

# Range → (seconds, period). The period keeps every chart at 60–360 points: enough to read,
# few enough for GetMetricData to answer quickly.
RANGES = {
    "1h": (3600, 60),
    "6h": (6 * 3600, 120),
    "24h": (24 * 3600, 300),
    "7d": (7 * 24 * 3600, 3600),
}
DEFAULT_RANGE = "1h"
P95_UNAVAILABLE = "p95 unavailable: the embedded emulator cannot compute percentiles"


@dataclass(frozen=True)
class Series:
    label: str
    namespace: str
    metric: str
    stat: str  # Average, Sum, Maximum, p95 ...
    # The emulator fails the WHOLE call on percentiles, so those are asked of real AWS only.
    unavailable: str = ""


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    unit: str
    series: tuple[Series, ...] = field(default_factory=tuple)


def _percentiles_supported() -> bool:
    return not aws.is_emulator()


def _p95(label: str, namespace: str, metric: str) -> Series:
    if _percentiles_supported():
        return Series(label, namespace, metric, "p95")
    return Series(label, namespace, metric, "p95", unavailable=P95_UNAVAILABLE)


def panels_for(target: Target) -> list[Panel]:
    """The charts of one instance, in page order."""
    if target.kind == "lambda":
        ns = "AWS/Lambda"
        return [
            Panel(
                "invocations",
                "Invocations and errors",
                "count",
                (
                    Series("Invocations", ns, "Invocations", "Sum"),
                    Series("Errors", ns, "Errors", "Sum"),
                    Series("Throttles", ns, "Throttles", "Sum"),
                ),
            ),
            Panel(
                "duration",
                "Duration",
                "ms",
                (Series("Average", ns, "Duration", "Average"), _p95("p95", ns, "Duration")),
            ),
            Panel(
                "concurrency",
                "Concurrent executions",
                "count",
                (Series("Maximum", ns, "ConcurrentExecutions", "Maximum"),),
            ),
        ]
    if target.kind == "ecs":
        ns = "AWS/ECS"
        panels = [
            Panel(
                "utilisation",
                "CPU and memory utilisation",
                "%",
                (
                    Series("CPU", ns, "CPUUtilization", "Average"),
                    Series("Memory", ns, "MemoryUtilization", "Average"),
                ),
            )
        ]
        if "AWS/ApplicationELB" in target.dimensions:
            elb = "AWS/ApplicationELB"
            panels += [
                Panel(
                    "requests",
                    "Load balancer requests and 5xx",
                    "count",
                    (
                        Series("Requests", elb, "RequestCount", "Sum"),
                        Series("5xx", elb, "HTTPCode_Target_5XX_Count", "Sum"),
                    ),
                ),
                Panel(
                    "response-time",
                    "Target response time",
                    "s",
                    (Series("Average", elb, "TargetResponseTime", "Average"),),
                ),
            ]
        return panels
    if target.kind == "dynamodb":
        ns = "AWS/DynamoDB"
        return [
            Panel(
                "capacity",
                "Consumed capacity",
                "units",
                (
                    Series("Reads", ns, "ConsumedReadCapacityUnits", "Sum"),
                    Series("Writes", ns, "ConsumedWriteCapacityUnits", "Sum"),
                ),
            ),
            Panel(
                "throttles",
                "Throttled requests",
                "count",
                (
                    Series("Read throttles", ns, "ReadThrottleEvents", "Sum"),
                    Series("Write throttles", ns, "WriteThrottleEvents", "Sum"),
                ),
            ),
            Panel(
                "latency",
                "Successful request latency",
                "ms",
                (Series("Average", ns, "SuccessfulRequestLatency", "Average"),),
            ),
        ]
    if target.kind == "sns":
        ns = "AWS/SNS"
        none = target.unwatched.get(ns, "")  # a service with only queues publishes nothing
        return [
            Panel(
                "messages",
                "Messages (first topic)",
                "count",
                (
                    Series("Published", ns, "NumberOfMessagesPublished", "Sum", none),
                    Series("Delivered", ns, "NumberOfNotificationsDelivered", "Sum", none),
                    Series("Failed", ns, "NumberOfNotificationsFailed", "Sum", none),
                ),
            )
        ]
    if target.kind == "stepfunctions":
        ns = "AWS/States"
        return [
            Panel(
                "executions",
                "Executions",
                "count",
                (
                    Series("Started", ns, "ExecutionsStarted", "Sum"),
                    Series("Succeeded", ns, "ExecutionsSucceeded", "Sum"),
                    Series("Failed", ns, "ExecutionsFailed", "Sum"),
                    Series("Timed out", ns, "ExecutionsTimedOut", "Sum"),
                ),
            ),
            Panel(
                "duration",
                "Execution time",
                "ms",
                (Series("Average", ns, "ExecutionTime", "Average"),),
            ),
        ]
    ns = "AWS/ApiGateway"
    return [
        Panel(
            "requests",
            "Requests and errors",
            "count",
            (
                Series("Count", ns, "Count", "Sum"),
                Series("4xx", ns, "4XXError", "Sum"),
                Series("5xx", ns, "5XXError", "Sum"),
            ),
        ),
        Panel(
            "latency",
            "Latency",
            "ms",
            (Series("Average", ns, "Latency", "Average"), _p95("p95", ns, "Latency")),
        ),
    ]


def query_id(panel_index: int, series_index: int) -> str:
    return f"q{panel_index}_{series_index}"


def metric_queries(target: Target, panels: list[Panel], period: int) -> list[dict]:
    """GetMetricData's MetricDataQueries for every available series of `panels`."""
    queries = []
    for p, panel in enumerate(panels):
        for s, series in enumerate(panel.series):
            if series.unavailable:
                continue
            queries.append(
                {
                    "Id": query_id(p, s),
                    "MetricStat": {
                        "Metric": {
                            "Namespace": series.namespace,
                            "MetricName": series.metric,
                            "Dimensions": target.dimensions[series.namespace],
                        },
                        "Period": period,
                        "Stat": series.stat,
                    },
                    "ReturnData": True,
                }
            )
    return queries


def window(range_key: str, now: float) -> tuple[int, int, int]:
    """(start, end, period) in epoch seconds, aligned to the period so that a refresh within
    the same period asks for the same window (and hits the cache)."""
    seconds, period = RANGES[range_key]
    end = (int(now) // period + 1) * period
    return end - seconds, end, period
