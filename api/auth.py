"""Bearer-token authentication for the API (`Authorization: Bearer slw_…`), with rate limits.

Two token buckets in Redis (portal/ratelimit.py) guard every call: one per client address and
one per token, both taken in one round trip before the token is even looked up (so guessing
tokens is slow too).
An empty bucket answers 429 with Retry-After (api/v1.py); the numbers are settings
(API_RATE_LIMIT_PER_ADDRESS, API_RATE_LIMIT_PER_TOKEN).
"""

import math

from django.conf import settings
from ninja.security import HttpBearer

from api.models import ApiToken
from api.services import MAX_TOKEN_LENGTH, TOKENS_CHANGED, token_authenticate
from portal import ratelimit


class RateLimited(Exception):
    """Too many requests from this address or with this token; retry after `wait` seconds."""

    def __init__(self, wait: float, scope: str):
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(
            f"Too many requests {scope}; try again in {self.retry_after} s (Retry-After)."
        )


def _limit(address: str, digest: str | None) -> str | None:
    """Take a token from the address's bucket, then from the presented token's, in one Redis
    round trip, before the token is looked up (so guessing tokens is slow too). The token's
    bucket is keyed by a digest of the secret as presented; a secret that is no token draws from
    a bucket no real token uses (and only once its address had a token to spend).

    The same round trip reads the counter that says whether remembered tokens are still good
    (api.services.TOKENS_CHANGED); returns it (None if Redis is down)."""
    buckets = []
    if settings.API_RATE_LIMITS_ENABLED:
        # REMOTE_ADDR, as django-axes uses: a client-set X-Forwarded-For must not pick a bucket.
        buckets.append((f"api-address:{address}", *settings.API_RATE_LIMIT_PER_ADDRESS))
        if digest is not None:
            buckets.append((f"api-token:{digest[:32]}", *settings.API_RATE_LIMIT_PER_TOKEN))
    empty, wait, counter = ratelimit.try_take_and_read(*buckets, read=TOKENS_CHANGED)
    if empty:
        raise RateLimited(wait, "from this address" if empty == 1 else "with this token")
    return counter


class TokenAuth(HttpBearer):
    openapi_description = "A personal API token, created under your user menu → API tokens."

    def authenticate(self, request, token):
        digest = None
        if token.startswith(ApiToken.PREFIX) and len(token) <= MAX_TOKEN_LENGTH:
            digest = ApiToken.hash(token)
        counter = _limit(request.META.get("REMOTE_ADDR", ""), digest)
        user = token_authenticate(raw=token, counter=counter, digest=digest)
        if user is not None:
            # The rest of Slipway (permission helper, audit) reads request.user.
            request.user = user
        return user
