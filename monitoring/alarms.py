"""The default alarms per kind, and reading their state from CloudWatch (one call per instance)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalog.models import ServiceInstance
from monitoring.targets import target_for
from portal.aws import aws_client


@dataclass(frozen=True)
class AlarmDefault:
    key: str
    label: str
    namespace: str
    metric: str
    stat: str
    comparison: str
    threshold: float
    unit: str
    period: int = 300
    evaluation_periods: int = 1

    @property
    def sentence(self) -> str:
        op = ">=" if self.comparison.startswith("GreaterThanOrEqual") else ">"
        minutes = self.period * self.evaluation_periods // 60
        return f"{self.stat} of {self.metric} {op} threshold over {minutes} min"


DEFAULTS: dict[str, tuple[AlarmDefault, ...]] = {
    "lambda": (
        AlarmDefault(
            "lambda-errors",
            "Lambda errors",
            "AWS/Lambda",
            "Errors",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            5,
            "errors",
        ),
    ),
    "ecs": (
        AlarmDefault(
            "ecs-cpu-high",
            "ECS CPU high",
            "AWS/ECS",
            "CPUUtilization",
            "Average",
            "GreaterThanThreshold",
            80,
            "%",
            evaluation_periods=3,
        ),
    ),
    "apigateway": (
        AlarmDefault(
            "api-5xx",
            "API 5xx errors",
            "AWS/ApiGateway",
            "5XXError",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            5,
            "errors",
        ),
    ),
    "dynamodb": (
        AlarmDefault(
            "dynamodb-write-throttles",
            "DynamoDB write throttling",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
            "events",
        ),
        AlarmDefault(
            "dynamodb-read-throttles",
            "DynamoDB read throttling",
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
            "events",
        ),
    ),
    "sns": (
        AlarmDefault(
            "sns-delivery-failed",
            "Failed deliveries",
            "AWS/SNS",
            "NumberOfNotificationsFailed",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
            "notifications",
        ),
    ),
    "stepfunctions": (
        AlarmDefault(
            "sfn-executions-failed",
            "Failed executions",
            "AWS/States",
            "ExecutionsFailed",
            "Sum",
            "GreaterThanOrEqualToThreshold",
            1,
            "executions",
        ),
    ),
}


def defaults_for(kind: str) -> tuple[AlarmDefault, ...]:
    return DEFAULTS.get(kind, ())


def default_by_key(key: str) -> AlarmDefault | None:
    for group in DEFAULTS.values():
        for default in group:
            if default.key == key:
                return default
    return None


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    updated_at: datetime | None
    threshold: float | None


def alarm_states(*, instance: ServiceInstance) -> dict[str, AlarmState]:
    """Every Slipway alarm of `instance` as CloudWatch has it now, by name: one DescribeAlarms."""
    prefix = target_for(instance).alarm_prefix
    response = aws_client("cloudwatch", environment=instance.environment).describe_alarms(
        AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"], MaxRecords=100
    )
    return {
        a["AlarmName"]: AlarmState(
            name=a["AlarmName"],
            state=a.get("StateValue", "INSUFFICIENT_DATA"),
            reason=a.get("StateReason", ""),
            updated_at=a.get("StateUpdatedTimestamp"),
            threshold=a.get("Threshold"),
        )
        for a in response.get("MetricAlarms", [])
    }


def worst_state(states: list[str]) -> str:
    """The state a summary is coloured by: ALARM beats INSUFFICIENT_DATA beats OK."""
    for state in ("ALARM", "INSUFFICIENT_DATA", "OK"):
        if state in states:
            return state
    return ""
