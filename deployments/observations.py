"""The plan's reading of AWS, kept briefly so a deployment's first run applies against it.

A plan reads AWS (observe) to show the diff; when the user confirms at once, the worker would
read the same state again a moment later. Instead the plan's `Observed` is kept in the cache
for DEPLOY_PLAN_REUSE_SECONDS under the deployment's id, and the first run uses it, once.

It is only reused when nothing can have changed since through Slipway: confirming refuses a
plan whose instance was deployed meanwhile (`deployment_confirm` compares the applied spec),
one deployment per instance runs at a time, and a retry (attempt 2 or later: a worker died or
AWS failed mid-apply) always reads AWS again, so a crashed run's resources are adopted, never
duplicated. A change made behind Slipway's back in those few seconds is met by the apply
steps themselves: each creates with the name Slipway derives, and on "already exists" adopts.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from deployments.provisioners.base import Observed

log = logging.getLogger(__name__)


def _key(deployment_id: int) -> str:
    return f"deployment-plan-observed:{deployment_id}"


def remember(*, deployment_id: int, observed: Observed) -> None:
    """Keep what the plan observed (best effort: without it the run reads AWS itself)."""
    seconds = settings.DEPLOY_PLAN_REUSE_SECONDS
    if seconds <= 0:
        return
    try:
        cache.set(_key(deployment_id), (time.time(), observed), timeout=seconds)
    except Exception:  # noqa: BLE001 — a cache outage only costs one more read of AWS
        log.warning("Could not keep the plan's observation of deployment %s", deployment_id)


def recall(*, deployment_id: int, attempt: int) -> tuple[Observed, float] | None:
    """The plan's observation and its age in seconds, for the first attempt only; used once."""
    if attempt != 1:
        return None
    try:
        found = cache.get(_key(deployment_id))
        cache.delete(_key(deployment_id))
    except Exception:  # noqa: BLE001
        log.warning("Could not read the plan's observation of deployment %s", deployment_id)
        return None
    if not found:
        return None
    taken_at, observed = found
    age = time.time() - taken_at
    if not isinstance(observed, Observed) or age > settings.DEPLOY_PLAN_REUSE_SECONDS:
        return None
    return observed, age
