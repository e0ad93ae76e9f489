"""Reading a service's CloudWatch Logs: one FilterLogEvents call per user action.

FilterLogEvents only pages forward in time (oldest first, `nextToken` to the next page), while
people read logs newest first. So each action is one call over a time window whose END moves:
- first page: the window [range start, now]; the newest PAGE_SIZE lines are shown, newest first;
- "load older": the same call with the window ending at the oldest line shown (lines already
  shown at that millisecond are skipped);
- when a window holds more than one AWS page (10,000 lines or 1 MB), AWS returns its OLDEST page
  and a nextToken: the page says so and "load newer" follows that nextToken;
- live tail: the window [last seen timestamp, now], polled by htmx.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from catalog.models import ServiceInstance
from monitoring.targets import target_for
from portal.aws import (
    TIMEOUT_MESSAGE,
    aws_client,
    error_code,
    error_message,
    is_timeout,
    is_transient,
)
from portal.untrusted import pretty_json

PAGE_SIZE = 50
FETCH_LIMIT = 10_000  # AWS's own maximum per FilterLogEvents page
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}
DEFAULT_RANGE = "1h"
NO_LOGS = (
    "This kind writes no log lines of its own (a DynamoDB table's activity is in its metrics, "
    "and in CloudTrail for control-plane calls)."
)


@dataclass(frozen=True)
class LogLine:
    event_id: str
    timestamp: int  # epoch milliseconds
    stream: str
    message: str
    pretty: str  # the message as indented JSON, or "" when it is not JSON

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)


@dataclass
class LogPage:
    log_group: str
    lines: list[LogLine] = field(default_factory=list)  # newest first
    older_before: int | None = None  # "load older" window end (ms), None: nothing older
    older_skip: list[str] = field(default_factory=list)  # ids shown at that millisecond
    newer_token: str = ""  # the window had more than one AWS page: follow it with this
    error: str = ""
    tail_since: int = 0  # live tail asks from here (ms)
    tail_seen: list[str] = field(default_factory=list)


def _line(event: dict) -> LogLine:
    # Whatever AWS hands back must encode as UTF-8 in the page: lone surrogates become "?".
    message = event.get("message", "").rstrip("\n").encode("utf-8", "replace").decode("utf-8")
    return LogLine(
        event_id=event["eventId"],
        timestamp=event["timestamp"],
        stream=event.get("logStreamName", ""),
        message=message,
        pretty=pretty_json(message),  # "" (raw text) when too deep or not JSON
    )


def _explain(exc: BaseException, log_group: str) -> str:
    code = error_code(exc)
    if code == "ResourceNotFoundException":
        return (
            f"The log group {log_group} does not exist yet. It appears when the service writes "
            "its first log line."
        )
    if is_timeout(exc):
        return TIMEOUT_MESSAGE
    if is_transient(exc) and "Throttl" in code:
        return "CloudWatch Logs is throttling requests right now; try again in a few seconds."
    return f"CloudWatch Logs did not answer: {error_message(exc)}"


def _filter(
    instance: ServiceInstance, log_group: str, *, start: int, end: int, pattern: str, token: str
) -> dict:
    kwargs = {
        "logGroupName": log_group,
        "startTime": start,
        "endTime": end,
        "limit": FETCH_LIMIT,
    }
    if pattern:
        kwargs["filterPattern"] = pattern
    if token:
        kwargs["nextToken"] = token
    return aws_client("logs", environment=instance.environment).filter_log_events(**kwargs)


def _ids_at(lines: list[LogLine], timestamp: int) -> list[str]:
    return [line.event_id for line in lines if line.timestamp == timestamp]


def logs_page(
    *,
    instance: ServiceInstance,
    range_key: str = DEFAULT_RANGE,
    pattern: str = "",
    before: int | None = None,
    skip: list[str] | None = None,
    token: str = "",
    now_ms: int | None = None,
) -> LogPage:
    """One page of log lines, newest first, from one FilterLogEvents call."""
    log_group = target_for(instance).log_group
    if not log_group:
        return LogPage(log_group="", error=NO_LOGS)
    now_ms = now_ms or int(time.time() * 1000)
    start = now_ms - RANGES.get(range_key, RANGES[DEFAULT_RANGE]) * 1000
    end = before if before is not None else now_ms
    page = LogPage(log_group=log_group, tail_since=now_ms)
    try:
        response = _filter(instance, log_group, start=start, end=end, pattern=pattern, token=token)
    except (ClientError, BotoCoreError) as exc:
        page.error = _explain(exc, log_group)
        return page
    skipped = set(skip or ())
    events = [
        _line(e)
        for e in response.get("events", [])
        if not (before is not None and e["timestamp"] == before and e["eventId"] in skipped)
    ]
    events.sort(key=lambda line: line.timestamp)
    shown = events[-PAGE_SIZE:]
    page.lines = list(reversed(shown))
    page.newer_token = response.get("nextToken") or ""
    if len(events) > len(shown):
        oldest = shown[0].timestamp
        page.older_before = oldest
        page.older_skip = _ids_at(shown, oldest) + (list(skipped) if before == oldest else [])
    if before is None and not token and page.lines and not page.newer_token:
        newest = page.lines[0].timestamp
        page.tail_since = newest
        page.tail_seen = _ids_at(page.lines, newest)
    return page


def logs_tail(
    *,
    instance: ServiceInstance,
    since: int,
    seen: list[str],
    pattern: str = "",
    now_ms: int | None = None,
) -> LogPage:
    """Lines newer than `since` (minus those already `seen` at that millisecond), newest first."""
    log_group = target_for(instance).log_group
    if not log_group:
        return LogPage(log_group="", error=NO_LOGS, tail_since=since)
    now_ms = now_ms or int(time.time() * 1000)
    page = LogPage(log_group=log_group, tail_since=since, tail_seen=list(seen))
    try:
        response = _filter(
            instance, log_group, start=since, end=now_ms + 1000, pattern=pattern, token=""
        )
    except (ClientError, BotoCoreError) as exc:
        page.error = _explain(exc, log_group)
        return page
    seen_ids = set(seen)
    lines = sorted(
        (_line(e) for e in response.get("events", []) if e["eventId"] not in seen_ids),
        key=lambda line: line.timestamp,
    )
    page.lines = list(reversed(lines))
    if lines:
        newest = lines[-1].timestamp
        page.tail_since = newest
        page.tail_seen = _ids_at(lines, newest) + (list(seen) if newest == since else [])
    return page
