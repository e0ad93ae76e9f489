"""Writing the audit log. Every mutation in Slipway calls `audit_record` once."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from audit.models import AuditEvent

SOURCES = set(AuditEvent.Source.values)
RESULTS = set(AuditEvent.Result.values)

# Where the current request or command came from; the API and management commands set it so
# rows written deep inside shared services (deployments, catalog) name the right source.
_current_source: contextvars.ContextVar[str] = contextvars.ContextVar(
    "audit_source", default=AuditEvent.Source.WEB
)


@contextlib.contextmanager
def audit_source(source: str) -> Iterator[None]:
    """Within this block, `audit_record` calls without an explicit source use `source`."""
    if source not in SOURCES:
        raise ValueError(f"Unknown audit source {source!r}")
    token = _current_source.set(source)
    try:
        yield
    finally:
        _current_source.reset(token)


# The rows of the current `audit_batch()` block, inserted together when it ends; None outside one.
_batch: contextvars.ContextVar[list[AuditEvent] | None] = contextvars.ContextVar(
    "audit_batch", default=None
)


@contextlib.contextmanager
def audit_batch() -> Iterator[None]:
    """Within this block (inside one transaction), `audit_record` collects its rows and they are
    inserted in one statement, in the order recorded, when the block ends without an exception
    (with one, none is: the caller's transaction rolls back what the rows were about). Rows
    returned meanwhile have no primary key yet."""
    rows: list[AuditEvent] = []
    token = _batch.set(rows)
    try:
        yield
    finally:
        _batch.reset(token)
    if rows:
        AuditEvent.objects.bulk_create(rows)


def _target_fields(target: Any) -> tuple[str, str, str]:
    """(type, id, label) for a model instance, a (type, id, label) tuple, or a plain string."""
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        return target._meta.label_lower, str(target.pk or ""), str(target)[:255]
    if isinstance(target, tuple):
        kind, ident, label = (list(target) + ["", "", ""])[:3]
        return str(kind)[:100], str(ident)[:100], str(label or ident)[:255]
    return "", "", str(target)[:255]


def _jsonable(value: Any) -> Any:
    """Dates, decimals and UUIDs become strings, so any spec or form value can be stored."""
    import json

    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def audit_record(
    *,
    actor,
    action: str,
    target: Any,
    environment=None,
    before: Any = None,
    after: Any = None,
    aws_request_ids: Iterable[str] = (),
    result: str = AuditEvent.Result.OK,
    source: str | None = None,
) -> AuditEvent:
    """Append one audit row.

    `actor` is a user, or None for the system. `target` is a model instance, a
    `(type, id, label)` tuple, or a string label. `before`/`after` are JSON-able snapshots.
    `source` defaults to the one set by `audit_source()` (the API, a command), else "web".
    Inside `audit_batch()` the row is inserted when the block ends.
    """
    source = source or _current_source.get()
    if source not in SOURCES:
        raise ValueError(f"Unknown audit source {source!r}")
    if result not in RESULTS:
        raise ValueError(f"Unknown audit result {result!r}")
    target_type, target_id, target_label = _target_fields(target)
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(
        actor=user,
        actor_name=user.get_username() if user else "",
        action=action[:100],
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        environment=environment,
        before=_jsonable(before),
        after=_jsonable(after),
        aws_request_ids=[r for r in aws_request_ids if r],
        result=result,
        source=source,
    )
    batch = _batch.get()
    if batch is None:
        event.save(force_insert=True)
    else:
        batch.append(event)
    return event
