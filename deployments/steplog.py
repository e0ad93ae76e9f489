"""The deployment's step log: the lines a user reads live, each written as it happens.

A step is written when it starts (`running`) and again when it ends (`ok` or `failed`, with
AWS's error text and request ids); a note is a finished line written once. Every write tells
the live log (deployments/live.py).

Writes that happen back to back share one statement (and one commit, one live-log message):
a step's start also writes the notes just before it and the end of the step just before it
(`finishing`), when the caller holds those. Only writes with no AWS call between them are
joined, so the live log shows every line at the moment it would have shown it alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from deployments import live
from deployments.models import Deployment, DeploymentStep
from portal.aws import collect_request_ids, error_message, request_id
from portal.ratelimit import RateLimited

_TABLE = DeploymentStep._meta.db_table
_COLUMNS = "deployment_id, name, status, message, aws_request_id, started_at, finished_at"


@dataclass(frozen=True)
class Note:
    """A finished line to write (with the next write, or on its own by `notes`)."""

    name: str
    message: str = ""
    status: str = DeploymentStep.Status.INFO


@dataclass(frozen=True)
class Finish:
    """The end of a step, not yet written: the next step's start writes it (or `flush`)."""

    step_id: int
    status: str
    message: str
    aws_request_id: str
    finished_at: datetime


class Step:
    """The running step a `step()` block yields: set `message` to what the step did.
    With `defer_finish`, `finish` holds its end after the block, for the next write."""

    def __init__(self, pk: int) -> None:
        self.pk = pk
        self.message = ""
        self.finish: Finish | None = None


def _write(
    deployment_id: int,
    notes: Sequence[Note] = (),
    start: str | None = None,
    finishing: Finish | None = None,
    tell: bool = True,
) -> int | None:
    """One statement: the end of `finishing`, then the notes, then `start` as a running line;
    the live log is told unless `tell` is False (the caller tells it with its own change).
    Returns the running line's id (the last row inserted, so the highest id)."""
    now = timezone.now()
    rows = [(deployment_id, n.name, n.status, n.message, "", now, now) for n in notes]
    if start is not None:
        rows.append((deployment_id, start, DeploymentStep.Status.RUNNING, "", "", now, None))
    if not rows:
        if finishing is not None:
            _finish(finishing)
            if tell:
                live.deployment_changed(deployment_id)
        return None
    params: list = []
    sql = ""
    if finishing is not None:
        sql = (
            f"WITH finished AS (UPDATE {_TABLE} SET status = %s, message = %s,"
            " aws_request_id = %s, finished_at = %s WHERE id = %s) "
        )
        params += [
            finishing.status,
            finishing.message,
            finishing.aws_request_id,
            finishing.finished_at,
            finishing.step_id,
        ]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    sql += f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES {values} RETURNING id"
    for row in rows:
        params += row
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [found for (found,) in cursor.fetchall()]
    if tell:
        live.deployment_changed(deployment_id)
    return max(ids)


def _finish(finishing: Finish) -> None:
    DeploymentStep.objects.filter(pk=finishing.step_id).update(
        status=finishing.status,
        message=finishing.message,
        aws_request_id=finishing.aws_request_id,
        finished_at=finishing.finished_at,
    )


@contextlib.contextmanager
def step(
    deployment: Deployment,
    name: str,
    *,
    notes: Sequence[Note] = (),
    finishing: Finish | None = None,
    defer_finish: bool = False,
) -> Iterator[Step]:
    """Log a step as running, then ok or failed (with AWS's error text and request id).

    Its start also writes `finishing` (the previous step's end) and `notes` (lines before it).
    With `defer_finish`, a successful end is not written but left in the yielded step's
    `finish`, for the caller to pass to the next write with no AWS call in between (or to
    `flush`); a failure is always written at once."""
    pk = _write(deployment.pk, notes, name, finishing)
    assert pk is not None
    running = Step(pk)
    try:
        with collect_request_ids() as ids:
            yield running
    except RateLimited:
        # Not a failure: the deployment is parked for an AWS rate-limit token (engine._park),
        # and the step runs again when it resumes.
        paused = "Paused for AWS's rate limit; done again when the deployment resumes."
        _finish(
            Finish(pk, DeploymentStep.Status.INTERRUPTED, paused, join_ids(ids), timezone.now())
        )
        live.deployment_changed(deployment.pk)
        raise
    except BaseException as exc:
        _finish(
            Finish(
                pk,
                DeploymentStep.Status.FAILED,
                error_message(exc),
                request_id(exc) or join_ids(ids),
                timezone.now(),
            )
        )
        live.deployment_changed(deployment.pk)
        raise
    done = Finish(pk, DeploymentStep.Status.OK, running.message, join_ids(ids), timezone.now())
    if defer_finish:
        running.finish = done
        return
    _finish(done)
    live.deployment_changed(deployment.pk)


def flush(
    deployment: Deployment,
    finishing: Finish | None,
    notes: Sequence[Note] = (),
    *,
    tell: bool = True,
) -> bool:
    """Write a deferred step end and notes that no step start will carry (one statement).
    Whether there was anything to write; with `tell=False` the caller tells the live log."""
    _write(deployment.pk, notes, None, finishing, tell=tell)
    return finishing is not None or bool(notes)


def join_ids(ids: list[str]) -> str:
    """As many request ids as fit the column, newest last (the one that did the change)."""
    kept: list[str] = []
    for rid in reversed(ids):
        if len(" ".join([rid, *kept])) > 100:
            break
        kept.insert(0, rid)
    return " ".join(kept)


def note(
    deployment: Deployment,
    name: str,
    message: str = "",
    status: str = DeploymentStep.Status.INFO,
) -> None:
    """A finished line in the log, written once (one INSERT, no running state to update)."""
    _write(deployment.pk, [Note(name, message, status)])


def ending(step: DeploymentStep, status: str, message: str) -> Finish:
    """The end of a running line read back from the database (a wait that went on across
    checks), to write with the next write or by `finish`."""
    return Finish(step.pk, status, message, step.aws_request_id, timezone.now())


def finish(step: DeploymentStep, status: str, message: str) -> None:
    _write(step.deployment_id, finishing=ending(step, status, message))
