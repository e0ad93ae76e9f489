"""The live log: deployment changes pushed to open pages as server-sent events.

The engine calls `deployment_changed(pk)` whenever it writes a step or a status; that publishes
on a Redis channel once the write is committed. The page's event stream (`event_stream`)
subscribes to the channel and sends the re-rendered fragment on every message, so the page
shows a change a few milliseconds after the worker wrote it (it polled every 2 s before).

A stream is bounded: it ends after the final state, or after DEPLOY_EVENTS_MAX_SECONDS (the
browser reconnects and gets the current state first), so it never holds a web worker thread
for long; comment lines keep idle connections alive through proxies. If Redis or the stream
fails, the page falls back to polling (static/deployments/live.js).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import redis
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)


def _channel(deployment_id: int) -> str:
    # Prefixed like the cache keys, so test runs and benchmarks sharing a Redis stay apart.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return f"{prefix}:deployment:{deployment_id}"


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    """One client (and connection pool) per process."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=None, health_check_interval=30
    )


_slots_lock = threading.Lock()
_slots_used = 0


def stream_slot() -> Callable[[], None] | None:
    """Reserve one of this process's DEPLOY_EVENTS_MAX_STREAMS; returns its release function.

    None when all are taken: each open stream holds a web thread, and pages must still be
    served. The caller answers 503 and the page polls until its stream reconnects.
    """
    global _slots_used
    with _slots_lock:
        if _slots_used >= settings.DEPLOY_EVENTS_MAX_STREAMS:
            return None
        _slots_used += 1
    released = False

    def release() -> None:
        global _slots_used
        nonlocal released
        with _slots_lock:
            if not released:
                released = True
                _slots_used -= 1

    return release


def _publish(deployment_id: int) -> None:
    try:
        _redis().publish(_channel(deployment_id), b"changed")
    except redis.RedisError:
        # Pages still poll when the stream breaks; a missed push costs at most 2 s.
        log.warning("Could not publish a change of deployment %s", deployment_id, exc_info=True)


def deployment_changed(deployment_id: int) -> None:
    """Tell open pages that the deployment changed, once the change is committed."""
    transaction.on_commit(lambda: _publish(deployment_id))


def _event(name: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def event_stream(deployment_id: int, render: Callable[[], tuple[str, bool]]) -> Iterator[str]:
    """Server-sent events for one deployment page.

    `render()` returns the page fragment and whether the deployment is finished. Steps:
    1. subscribe first, so nothing written after the first render is missed;
    2. send the current fragment (a reconnecting page catches up with it);
    3. on every published change, drain the burst and send the fragment again;
    4. send `done` after the final state and end, or end at the time limit (the browser
       reconnects after `retry` ms); a comment line every DEPLOY_EVENTS_HEARTBEAT_SECONDS.
    """
    max_seconds = settings.DEPLOY_EVENTS_MAX_SECONDS
    heartbeat = settings.DEPLOY_EVENTS_HEARTBEAT_SECONDS
    pubsub = _redis().pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(_channel(deployment_id))
        deadline = time.monotonic() + max_seconds
        yield "retry: 500\n\n"
        html, finished = render()
        yield _event("deployment", html)
        while not finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            message = pubsub.get_message(timeout=min(heartbeat, remaining))
            if message is None:
                yield ": still here\n\n"
                continue
            while pubsub.get_message(timeout=0.005) is not None:
                pass  # a step's start and end often arrive together: render once
            html, finished = render()
            yield _event("deployment", html)
        yield _event("done", "")
    finally:
        pubsub.close()
