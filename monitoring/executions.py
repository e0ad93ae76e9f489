"""A workflow's executions: the recent ones with status, start, duration and the failed state's
error (read from AWS for the page), their history, and starting one (owners only, audited).

Reads are bounded (the newest `LIST_LIMIT` executions, and the failed state's error looked up
only for the failed ones shown); starting takes the input as JSON text with size and depth limits.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from django.core.exceptions import PermissionDenied, ValidationError

from audit.services import audit_record
from catalog.models import ServiceInstance
from monitoring.targets import target_for
from portal.aws import aws_client, error_message
from portal.untrusted import UntrustedInputError, loads_json_limited, pretty_json

LIST_LIMIT = 25
INPUT_MAX_BYTES = 256 * 1024  # AWS's limit for an execution's input


@dataclass(frozen=True)
class Execution:
    name: str
    arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    started: datetime
    stopped: datetime | None
    error: str = ""
    cause: str = ""

    @property
    def duration_seconds(self) -> float | None:
        return (self.stopped - self.started).total_seconds() if self.stopped else None


@dataclass
class ExecutionsPage:
    executions: list[Execution] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    type: str
    timestamp: datetime
    detail: str  # error and cause, or the state entered, or the pretty input/output


def _arn(instance: ServiceInstance) -> str:
    return target_for(instance).dimensions["AWS/States"][0]["Value"]


def _sfn(instance: ServiceInstance, actor: str = ""):
    return aws_client("stepfunctions", environment=instance.environment, actor=actor)


def executions_recent(*, instance: ServiceInstance) -> ExecutionsPage:
    """The newest executions, newest first; failed ones with their error and cause."""
    page = ExecutionsPage()
    sfn = _sfn(instance)
    try:
        listed = sfn.list_executions(stateMachineArn=_arn(instance), maxResults=LIST_LIMIT)
        for item in listed.get("executions", []):
            error = cause = ""
            if item["status"] in ("FAILED", "TIMED_OUT", "ABORTED"):
                described = sfn.describe_execution(executionArn=item["executionArn"])
                error, cause = described.get("error", ""), described.get("cause", "")
            page.executions.append(
                Execution(
                    name=item["name"],
                    arn=item["executionArn"],
                    status=item["status"],
                    started=item["startDate"],
                    stopped=item.get("stopDate"),
                    error=error or "",
                    cause=cause or "",
                )
            )
    except (ClientError, BotoCoreError) as exc:
        page.error = f"Step Functions did not answer: {error_message(exc)}"
    page.executions.sort(key=lambda e: e.started, reverse=True)
    return page


def _detail(event: dict) -> str:
    for key, value in event.items():
        if not key.endswith("EventDetails") or not isinstance(value, dict):
            continue
        if value.get("error") or value.get("cause"):
            return f"{value.get('error', '')}: {value.get('cause', '')}".strip(": ")
        if value.get("name"):
            return value["name"]
        for part in ("input", "output"):
            if isinstance(value.get(part), str):
                return f"{part}: {pretty_json(value[part]) or value[part]}"
    return ""


def execution_history(*, instance: ServiceInstance, name: str) -> tuple[list[HistoryEvent], str]:
    """The events of one execution of this instance's state machine (by execution name)."""
    arn = _arn(instance).replace(":stateMachine:", ":execution:") + f":{name}"
    try:
        paginator = _sfn(instance).get_paginator("get_execution_history")
        events = [
            HistoryEvent(e["id"], e["type"], e["timestamp"], _detail(e))
            for page in paginator.paginate(executionArn=arn, PaginationConfig={"MaxItems": 1000})
            for e in page.get("events", [])
        ]
    except (ClientError, BotoCoreError) as exc:
        return [], f"Step Functions did not answer: {error_message(exc)}"
    return events, ""


def parse_input(text: str) -> str:
    """The execution input as compact JSON text; ValidationError in words when it is not."""
    try:
        value = loads_json_limited(text or "{}", max_bytes=INPUT_MAX_BYTES)
    except UntrustedInputError as exc:
        raise ValidationError(f"The input is not valid JSON: {exc}") from exc
    return json.dumps(value)


def execution_start(*, instance: ServiceInstance, user, input_text: str) -> Execution:
    """Start one execution with `input_text` (JSON); owners only; audited with AWS's request."""
    if not instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can start executions.")
    payload = parse_input(input_text)
    name = f"slipway-{user.get_username()}-{uuid.uuid4().hex[:12]}"[:80]
    sfn = _sfn(instance, actor=user.get_username())
    try:
        started = sfn.start_execution(stateMachineArn=_arn(instance), name=name, input=payload)
    except (ClientError, BotoCoreError) as exc:
        audit_record(
            actor=user,
            action="workflow.execution.start",
            target=instance.service,
            environment=instance.environment,
            after={"name": name, "error": error_message(exc)},
            result="failed",
        )
        raise ValidationError(f"Step Functions refused to start it: {error_message(exc)}") from exc
    audit_record(
        actor=user,
        action="workflow.execution.start",
        target=instance.service,
        environment=instance.environment,
        after={"name": name, "execution_arn": started["executionArn"]},
        aws_request_ids=[started.get("ResponseMetadata", {}).get("RequestId", "")],
    )
    return Execution(
        name=name,
        arn=started["executionArn"],
        status="RUNNING",
        started=started["startDate"],
        stopped=None,
    )
