"""A Celery worker for benchmarks that publishes its AWS call counts to Redis twice a second.

Started by bench/load.py, with its environment, from the project root:
`python -m bench._worker --pool threads --concurrency 16 ...` (the arguments of `celery worker`).
The counts live in this process (portal.aws.call_counts()); a benchmark reads every worker's
from the hash `<prefix>:bench-calls:<pid>`, so even a SIGKILLed worker's counts survive (all
but its last half second).
"""

import os
import sys
import threading

import django

django.setup()

from django.conf import settings  # noqa: E402

from portal import aws, ratelimit  # noqa: E402
from portal.celery import app  # noqa: E402


def calls_key(pid: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return f"{prefix}:bench-calls:{pid}"


def _publish(stop: threading.Event) -> None:
    client, _ = ratelimit._redis()
    key = calls_key(os.getpid())
    while not stop.wait(0.5):
        counts = aws.call_counts()
        if counts:
            client.hset(key, mapping={f"{s}.{o}": n for (s, o), n in counts.items()})
            client.expire(key, 3600)


if __name__ == "__main__":
    threading.Thread(target=_publish, args=(threading.Event(),), daemon=True).start()
    app.worker_main(["worker", *sys.argv[1:]])
