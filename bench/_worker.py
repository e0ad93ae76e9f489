"""A Celery worker for benchmarks that publishes what it did to Redis twice a second.

Started by bench/load.py and bench/deploy_overhead.py, with their environment, from the
project root: `python -m bench._worker --queues ... --hostname ...` (the arguments of `celery
worker`; pool and threads come from the settings). What it publishes, read by the benchmark:
- `<prefix>:bench-calls:<pid>`, a hash of its AWS call counts (portal.aws.call_counts()), so
  even a SIGKILLed worker's counts survive (all but its last half second);
- `<prefix>:bench-events:<pid>`, a list of timed events, one per line of text:
  `task <deployment> <start> <end>` for each task run (busy threads over time, time running),
  `bucket <deployment> <group> <asked> <waited>` for each rate-limit token it took,
  `park <deployment> <group> <asked> <wait>` for each deployment parked for a far token,
  `lock <deployment> <asked> <acquired> <released>` for each listener-rule lock it held.
  Times are `time.time()` (one clock for every process on the machine). The probes wrap the
  shipped functions; they change no behaviour.
"""

import os
import sys
import threading
import time

import django

django.setup()

from celery import signals  # noqa: E402
from django.conf import settings  # noqa: E402

from deployments.provisioners import ecs_handlers  # noqa: E402
from portal import aws, ratelimit  # noqa: E402
from portal.celery import app  # noqa: E402

_events: list[str] = []
_events_lock = threading.Lock()
_current = threading.local()  # the deployment this thread's task is running
_started: dict[str, float] = {}


def _key(name: str, pid: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return f"{prefix}:bench-{name}:{pid}"


def calls_key(pid: int) -> str:
    return _key("calls", pid)


def _event(*fields) -> None:
    with _events_lock:
        _events.append(" ".join(str(f) for f in fields))


def _deployment() -> int:
    return getattr(_current, "deployment", 0)


@signals.task_prerun.connect
def _task_start(task_id=None, task=None, args=None, **_):
    _current.deployment = args[0] if args and isinstance(args[0], int) else 0
    _started[task_id] = time.time()


@signals.task_postrun.connect
def _task_end(task_id=None, task=None, **_):
    start = _started.pop(task_id, None)
    if start is not None:
        _event("task", _deployment(), f"{start:.4f}", f"{time.time():.4f}")
    _current.deployment = 0


_take = ratelimit.take


def _timed_take(*, group: str, **kwargs) -> float:
    asked = time.time()
    try:
        waited = _take(group=group, **kwargs)
    except ratelimit.RateLimited as parked:
        _event("park", _deployment(), group, f"{asked:.4f}", f"{parked.wait:.4f}")
        raise
    _event("bucket", _deployment(), group, f"{asked:.4f}", f"{waited:.4f}")
    return waited


class _TimedLock:
    def __init__(self, lock):
        self.lock = lock

    def __enter__(self):
        self.asked = time.time()
        result = self.lock.__enter__()
        self.acquired = time.time()
        return result

    def __exit__(self, *exc):
        try:
            return self.lock.__exit__(*exc)
        finally:
            fields = (self.asked, self.acquired, time.time())
            _event("lock", _deployment(), *(f"{t:.4f}" for t in fields))


ratelimit.take = _timed_take
_rules_lock = getattr(ecs_handlers, "_rules_lock", None)
if _rules_lock is not None:  # a probe only: the worker runs the same without it
    ecs_handlers._rules_lock = lambda listener: _TimedLock(_rules_lock(listener))


def _publish(stop: threading.Event) -> None:
    client, _ = ratelimit._redis()
    pid = os.getpid()
    while not stop.wait(0.5):
        counts = aws.call_counts()
        with _events_lock:
            events = _events[:]
            _events.clear()
        pipe = client.pipeline()
        if counts:
            pipe.hset(calls_key(pid), mapping={f"{s}.{o}": n for (s, o), n in counts.items()})
            pipe.expire(calls_key(pid), 3600)
        if events:
            pipe.rpush(_key("events", pid), *events)
            pipe.expire(_key("events", pid), 3600)
        pipe.execute()


if __name__ == "__main__":
    threading.Thread(target=_publish, args=(threading.Event(),), daemon=True).start()
    app.worker_main(["worker", *sys.argv[1:]])
