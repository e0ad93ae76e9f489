"""Settings for the test suite: PostgreSQL and a Redis database of its own by default.

The suite runs on PostgreSQL (as production does); override with DATABASE_URL / REDIS_URL.
"""

import os

# Several suites may run at once on one machine (e.g. two checkouts): SLIPWAY_TEST_ID keeps
# their databases, queues and cache keys apart.
_suffix = f"_{os.environ['SLIPWAY_TEST_ID']}" if os.environ.get("SLIPWAY_TEST_ID") else ""
os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/slipway{_suffix}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CELERY_QUEUE", f"slipway-test{_suffix}")
os.environ.setdefault("CACHE_KEY_PREFIX", f"slipway-test{_suffix}")
# One attempt: a 500 from the emulator should fail the test, not be retried silently.
os.environ.setdefault("SLIPWAY_AWS_MAX_ATTEMPTS", "1")
os.environ.setdefault("SLIPWAY_DEPLOY_POLL_SECONDS", "0.3")
# The tests that run the engine inline follow its stability checks, not its parking for a far
# rate-limit token (deployments/tests/test_rate_limit_parking.py sets the shipped 2 s, in its
# worker too): elsewhere in the suite such a wait sleeps, up to AWS_RATE_LIMIT_MAX_WAIT.
os.environ.setdefault("SLIPWAY_AWS_RATE_LIMIT_PARK_AFTER", "30")

from portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The emulator has no limits of its own; keep the buckets, but let API Gateway's control plane
# (one deployment per 5 s, one new API per 3 s, one deleted API per 30 s on AWS) through faster
# so the suite does not spend minutes waiting. The rate-limit tests set their own numbers.
AWS_RATE_LIMITS = {  # noqa: F405
    group: (50.0, 50) if group.startswith("apigateway-") else limits
    for group, limits in AWS_RATE_LIMITS.items()  # noqa: F405
}

# Every test client calls from 127.0.0.1: the per-address API bucket would be shared by the
# whole suite. The rate-limit tests set their own numbers.
API_RATE_LIMIT_PER_ADDRESS = (1000.0, 100_000)

# Every AWS call made while a transaction is open fails the test that made it (web process and
# Celery worker alike); the transactions pytest-django opens around a test do not count.
AWS_CALLS_IN_TRANSACTIONS = "raise"
# Likewise for failed sign-ins per address (django-axes' per-username lockout stays as shipped).
LOGIN_ADDRESS_FAILURE_LIMIT = 100_000
