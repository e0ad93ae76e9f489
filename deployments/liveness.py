"""Which worker processes are alive, so a dead worker's deployments run again within seconds.

Every process that claims a deployment keeps a short-lived key in the cache (Redis) fresh from a
daemon thread, and records its name on the row (`Deployment.worker`). When a process is
SIGKILLed its thread dies with it and the key expires after WORKER_TTL_SECONDS; the reconciler
(beat, every few seconds) then sees a running row whose worker is gone and re-queues it, instead
of waiting minutes of heartbeat silence — which a live worker inside one long AWS call (a large
upload, a throttled call waiting for its token) could also produce.

Why not Celery's own redelivery: a whole machine dying cannot reject its messages, so Redis
gives them back only after the broker's visibility timeout, and that timeout must stay above
the longest task and countdown (or healthy tasks would run twice). The lease on the row makes a
late redelivery harmless either way.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

_KEY = "deployments:worker-alive:{}"
_started_in_pid: int | None = None
_lock = threading.Lock()


def worker_name() -> str:
    """This process: host and pid (a prefork child that dies alone counts as dead too)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _beat(name: str, stop: threading.Event) -> None:
    ttl = settings.DEPLOY_WORKER_TTL_SECONDS
    while True:
        try:
            cache.set(_KEY.format(name), 1, ttl)
        except Exception:  # noqa: BLE001 — Redis away for a moment: try again next round
            log.warning("Could not refresh the liveness key of %s", name, exc_info=True)
        if stop.wait(ttl / 3):
            return


def beating_name() -> str:
    """Start this process's liveness thread (once per process) and return its name."""
    global _started_in_pid
    pid = os.getpid()
    name = worker_name()
    if _started_in_pid != pid:
        with _lock:
            if _started_in_pid != pid:  # a forked child inherits the flag, not the thread
                cache.set(_KEY.format(name), 1, settings.DEPLOY_WORKER_TTL_SECONDS)
                thread = threading.Thread(
                    target=_beat, args=(name, threading.Event()), name="liveness", daemon=True
                )
                thread.start()
                _started_in_pid = pid
    return name


def alive(names: set[str]) -> set[str]:
    """The subset of `names` whose processes refreshed their key within the TTL."""
    if not names:
        return set()
    found = cache.get_many([_KEY.format(n) for n in names])
    return {n for n in names if _KEY.format(n) in found}
