"""Bearer-token authentication for the API (`Authorization: Bearer slw_…`), with rate limits.

Two token buckets in Redis (portal/ratelimit.py) guard every call: one per client address,
taken before the token is even looked up (so guessing tokens is slow too), and one per token.
An empty bucket answers 429 with Retry-After (api/v1.py); the numbers are settings
(API_RATE_LIMIT_PER_ADDRESS, API_RATE_LIMIT_PER_TOKEN).
"""

import hashlib
import math

from django.conf import settings
from ninja.security import HttpBearer

from api.services import token_authenticate
from portal import ratelimit


class RateLimited(Exception):
    """Too many requests from this address or with this token; retry after `wait` seconds."""

    def __init__(self, wait: float, scope: str):
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(
            f"Too many requests {scope}; try again in {self.retry_after} s (Retry-After)."
        )


def _limit(name: str, limit: tuple[float, int], scope: str) -> None:
    if not settings.API_RATE_LIMITS_ENABLED:
        return
    rate, burst = limit
    wait = ratelimit.try_take(name=name, rate=rate, burst=burst)
    if wait > 0:
        raise RateLimited(wait, scope)


class TokenAuth(HttpBearer):
    openapi_description = "A personal API token, created under your user menu → API tokens."

    def authenticate(self, request, token):
        # REMOTE_ADDR, as django-axes uses: a client-set X-Forwarded-For must not pick a bucket.
        address = request.META.get("REMOTE_ADDR", "")
        _limit(f"api-address:{address}", settings.API_RATE_LIMIT_PER_ADDRESS, "from this address")
        user = token_authenticate(raw=token)
        if user is not None:
            digest = hashlib.sha256(token.encode()).hexdigest()[:32]
            _limit(f"api-token:{digest}", settings.API_RATE_LIMIT_PER_TOKEN, "with this token")
            # The rest of Slipway (permission helper, audit) reads request.user.
            request.user = user
        return user
