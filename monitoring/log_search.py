"""Log search across services: one CloudWatch Logs Insights query over many services' log groups.

A request id or an error can be followed from the API to the Lambda to the ECS service on one
page. Steps:
1. `search_scope()` turns the user's scope (a team, a system, or chosen services with what they
   depend on) into the log groups of those services' instances in one environment;
2. `log_search_start()` checks the bounds (time range, group count, Insights' concurrent-query
   limit per account and region), starts the query, records the search and audits it as a
   read of production data;
3. `log_search_results()` reads what AWS has so far (the page polls it while AWS scans) and
   finishes the row when AWS is done.

Bounds: at most `LOG_SEARCH_MAX_GROUPS` groups (AWS allows 50 per query), ranges up to 7 days,
and at most `LOG_SEARCH_MAX_CONCURRENT` running queries per account and region, held as expiring
slots in Redis (AWS's own limit is 30 per account; Slipway leaves room for other tools).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from catalog.models import Environment, Service, ServiceInstance, Team
from monitoring import logs
from monitoring.models import LogSearch
from monitoring.targets import target_for
from portal.aws import aws_client, error_message
from portal.untrusted import pretty_json

RESULT_LIMIT = 1000  # rows AWS returns for one query (Insights allows up to 10,000)
PAGE_SIZE = 100
SLOT_SECONDS = 15 * 60  # AWS times a query out after 60 min; a slot is given back sooner
DEPENDENCY_DEPTH = 5


class SearchRefused(Exception):
    """The search is outside the bounds; the message says which and what to do."""


@dataclass(frozen=True)
class Scope:
    environment: Environment
    label: str
    groups: list[tuple[str, str]]  # (log group, service slug)


def _with_dependencies(services: list[Service]) -> list[Service]:
    """The services and, transitively, what they depend on (a request passes through them)."""
    seen = {s.pk: s for s in services}
    frontier = list(seen)
    for _ in range(DEPENDENCY_DEPTH):
        if not frontier:
            break
        found = Service.objects.filter(dependents__in=frontier).exclude(pk__in=seen).distinct()
        frontier = []
        for service in found:
            seen[service.pk] = service
            frontier.append(service.pk)
    return list(seen.values())


def search_scope(
    *,
    environment: Environment,
    team: Team | None = None,
    system: str = "",
    services: list[Service] | None = None,
    with_dependencies: bool = False,
) -> Scope:
    """The log groups of the chosen services' instances deployed in `environment`."""
    instances = ServiceInstance.objects.filter(
        environment=environment, applied_spec__isnull=False
    ).select_related("service", "environment")
    parts = []
    if services:
        chosen = _with_dependencies(services) if with_dependencies else services
        instances = instances.filter(service__in=chosen)
        parts.append(", ".join(sorted(s.slug for s in services)))
        if with_dependencies:
            parts[-1] += " and what they depend on"
    if team is not None:
        instances = instances.filter(service__owner=team)
        parts.append(f"team {team.name}")
    if system:
        instances = instances.filter(service__system=system)
        parts.append(f"system {system}")
    found = {(target_for(i).log_group, i.service.slug) for i in instances}
    # Kinds without logs of their own (DynamoDB tables) have no group to search.
    groups = sorted((g for g in found if g[0]), key=lambda g: g[1])
    label = "; ".join(parts) or "every service"
    return Scope(environment=environment, label=f"{label} in {environment.name}", groups=groups)


def insights_query(text: str) -> str:
    """The Insights query for lines containing `text` literally (regex-escaped, `/` too)."""
    pattern = re.escape(text).replace("/", "\\/")
    return (
        "fields @timestamp, @message, @log, @logStream"
        f" | filter @message like /{pattern}/"
        f" | sort @timestamp desc | limit {RESULT_LIMIT}"
    )


def _slot_keys(environment: Environment) -> list[str]:
    base = f"slipway:insights:{environment.aws_account_id}:{environment.region}"
    return [f"{base}:{i}" for i in range(settings.LOG_SEARCH_MAX_CONCURRENT)]


def _take_slot(environment: Environment) -> str | None:
    """One of the account's concurrent-query slots (cache.add is atomic in Redis), or None."""
    for key in _slot_keys(environment):
        if cache.add(key, "1", SLOT_SECONDS):
            return key
    return None


def _slot_key_of(search: LogSearch) -> str:
    return f"slipway:insights-slot-of:{search.pk}"


def log_search_start(*, user, scope: Scope, text: str, range_key: str) -> LogSearch:
    """Start the query (after the bounds), record and audit the search."""
    if not scope.groups:
        raise SearchRefused(
            "None of the chosen services is deployed in this environment, so there are no logs "
            "to search. Widen the scope or pick another environment."
        )
    if len(scope.groups) > settings.LOG_SEARCH_MAX_GROUPS:
        raise SearchRefused(
            f"That scope covers {len(scope.groups)} services; one search reads at most "
            f"{settings.LOG_SEARCH_MAX_GROUPS}. Narrow it to a team, a system or chosen services."
        )
    seconds = logs.RANGES.get(range_key)
    if seconds is None:
        raise SearchRefused("Choose a time range of at most 7 days.")
    slot = _take_slot(scope.environment)
    if slot is None:
        raise SearchRefused(
            "Too many log searches are running in this AWS account right now (CloudWatch limits "
            "concurrent queries); try again in a minute."
        )
    end_ms = int(time.time() * 1000)
    start_ms = end_ms - seconds * 1000
    client = aws_client("logs", environment=scope.environment, actor=user.get_username())
    try:
        query_id = client.start_query(
            logGroupNames=[g for g, _ in scope.groups],
            startTime=start_ms // 1000,
            endTime=end_ms // 1000 + 1,
            queryString=insights_query(text),
            limit=RESULT_LIMIT,
        )["queryId"]
    except Exception as exc:
        cache.delete(slot)
        raise SearchRefused(
            f"CloudWatch Logs did not start the search: {error_message(exc)}"
        ) from exc
    with transaction.atomic():
        search = LogSearch.objects.create(
            user=user,
            environment=scope.environment,
            text=text,
            scope=scope.label[:300],
            groups=[list(g) for g in scope.groups],
            start_ms=start_ms,
            end_ms=end_ms,
            query_id=query_id,
        )
        audit_record(
            actor=user,
            action="logs.search",
            target=search,
            environment=scope.environment,
            after={
                "text": text,
                "scope": scope.label,
                "groups": [g for g, _ in scope.groups],
                "range": range_key,
            },
        )
    cache.set(_slot_key_of(search), slot, SLOT_SECONDS)
    return search


@dataclass(frozen=True)
class Hit:
    timestamp: int  # epoch ms
    service: str
    log_group: str
    stream: str
    message: str
    pretty: str
    logs_url: str  # the service's Logs tab, ending at this line

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)


@dataclass
class Results:
    search: LogSearch
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1
    scanned_mb: float | None = None
    error: str = ""


def _range_covering(age_ms: int) -> str:
    """The smallest Logs-tab range that still reaches back to a line this old."""
    for key, seconds in logs.RANGES.items():
        if age_ms < seconds * 1000 - 60_000:
            return key
    return list(logs.RANGES)[-1]


def _logs_url(service: str, environment: str, timestamp: int, text: str) -> str:
    """The service's Logs tab at that moment, filtered to the searched text."""
    age = int(time.time() * 1000) - timestamp
    query = {
        "env": environment,
        "range": _range_covering(age),
        "pattern": '"' + text.replace('"', "") + '"',
        "before": timestamp + 1,
    }
    return reverse("monitoring:logs", args=[service]) + "?" + urlencode(query)


def _timestamp(value: str) -> int:
    """Insights answers '2026-12-03 10:00:00.000' on AWS, epoch ms in the emulator."""
    if value.isdigit():
        return int(value)
    parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _hit(row: list[dict], services: dict[str, str], search: LogSearch) -> Hit | None:
    values = {f["field"]: f.get("value", "") for f in row}
    group = values.get("@log", "")
    group = group.split(":", 1)[1] if ":" in group and not group.startswith("/") else group
    service = services.get(group)
    if service is None:
        return None
    try:
        timestamp = _timestamp(values.get("@timestamp", ""))
    except ValueError:
        return None
    message = values.get("@message", "").rstrip("\n")
    return Hit(
        timestamp=timestamp,
        service=service,
        log_group=group,
        stream=values.get("@logStream", ""),
        message=message,
        pretty=pretty_json(message),
        logs_url=_logs_url(service, search.environment.slug, timestamp, search.text),
    )


def _finish(search: LogSearch, status: str, count: int, error: str = "") -> None:
    updated = LogSearch.objects.filter(pk=search.pk, status=LogSearch.Status.RUNNING).update(
        status=status, result_count=count, error=error, finished_at=timezone.now()
    )
    if updated:
        slot = cache.get(_slot_key_of(search))
        if slot:
            cache.delete(slot)
        search.refresh_from_db()


def log_search_results(*, search: LogSearch, page: int = 1) -> Results:
    """What AWS has found so far (newest first), one page of it; finishes the row when done."""
    results = Results(search=search, page=max(page, 1))
    client = aws_client("logs", environment=search.environment, actor=search.user.get_username())
    try:
        response = client.get_query_results(queryId=search.query_id)
    except Exception as exc:  # noqa: BLE001 — shown on the page, never a 500
        results.error = f"CloudWatch Logs did not answer: {error_message(exc)}"
        return results
    services = {group: slug for group, slug in search.groups}
    hits = [h for row in response.get("results", []) if (h := _hit(row, services, search))]
    hits.sort(key=lambda h: h.timestamp, reverse=True)
    status = response.get("status", "")
    if search.is_running and status in ("Complete", "Failed", "Cancelled", "Timeout", "Unknown"):
        if status == "Complete":
            _finish(search, LogSearch.Status.COMPLETE, len(hits))
        else:
            _finish(search, LogSearch.Status.FAILED, len(hits), f"CloudWatch reported {status}.")
    stats = response.get("statistics") or {}
    if "bytesScanned" in stats:
        results.scanned_mb = round(stats["bytesScanned"] / 1_000_000, 1)
    results.total = len(hits)
    results.pages = max(1, -(-len(hits) // PAGE_SIZE))
    results.page = min(results.page, results.pages)
    start = (results.page - 1) * PAGE_SIZE
    results.hits = hits[start : start + PAGE_SIZE]
    return results
