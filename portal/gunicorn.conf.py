"""gunicorn settings for `make run` (Procfile `web`) and bench/catalog.py: one source for both.

Two worker processes (one per core of a small machine) with eight threads each: a page is
mostly CPU, but a request waiting on PostgreSQL, Redis or AWS lets another thread run.
Static files are served by WhiteNoise inside Django (see MIDDLEWARE), so no separate server.
"""

import os

bind = f"127.0.0.1:{os.environ.get('SLIPWAY_PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("SLIPWAY_WEB_THREADS", "8"))
worker_class = "gthread"
keepalive = 5
timeout = 60
accesslog = os.environ.get("SLIPWAY_ACCESS_LOG", "-") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
control_socket_disable = True  # no gunicornc control socket (a shared path per user)


def post_worker_init(worker):
    """Once the worker has imported Django and the project, move those objects (~150,000) out
    of the garbage collector's sight: they live as long as the process. Without it every
    full collection walked all of them, about 90 ms of CPU landing on one request in ~50
    (measured in-process on the catalog page); afterwards it walks only what requests
    allocate. The same as Instagram's `gc.freeze()` after fork (Python docs, gc.freeze)."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 — imports every view module now, not on a request
    gc.collect()
    gc.freeze()
