"""A shared token bucket in Redis per (account, region, throttle group), part of the AWS boundary.

AWS throttles per account and region; several workers and web processes share those limits, so
the bucket lives in Redis and every process takes tokens from the same one. A call that finds
the bucket empty waits for its token (bounded); past the bound it raises a throttling error,
which the engine treats as transient and retries later. A deployment's apply runs inside
`parking`: there a token more than a moment away is reserved for the deployment and
`RateLimited` is raised instead of sleeping, so the worker thread serves other deployments
until the engine resumes this one (deployments/engine.py).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import redis
from botocore.exceptions import ClientError
from django.conf import settings

log = logging.getLogger(__name__)

# Take one token from each bucket in turn, stopping at the first that has none: returns
# {i, wait, counter} for that bucket (the seconds until it has one; nothing taken from it or the
# ones after), or {0, "0", counter} when every bucket gave a token. KEYS: the buckets, then
# optionally one counter to read as well (see `counter_bump`; made up from the clock when it is
# missing, so a lost key never brings back an old value); ARGV: rate per second and burst of each
# bucket, in the same order. Uses the server's clock, shared by all. One round trip for the API's
# two buckets (address, then token) and its token cache's counter (api/services.py).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local buckets = #ARGV / 2
local counter = false
if #KEYS > buckets then
  counter = redis.call('GET', KEYS[#KEYS])
  if not counter then
    counter = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', KEYS[#KEYS], counter)
  end
end
for i = 1, buckets do
  local key = KEYS[i]
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tokens = tonumber(redis.call('HGET', key, 'tokens'))
  local stamp = tonumber(redis.call('HGET', key, 'stamp'))
  if tokens == nil then tokens = burst; stamp = now end
  tokens = math.min(burst, tokens + (now - stamp) * rate)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
  redis.call('HSET', key, 'tokens', tokens, 'stamp', now)
  redis.call('EXPIRE', key, 3600)
  if wait > 0 then return {i, tostring(wait), counter} end
end
return {0, "0", counter}
"""

# Reserve the next token for an AWS call: the bucket may go below zero, each caller then sleeps
# until its own token exists, so waiting callers are served in order, each with one round trip
# (no herd retrying every few milliseconds, no caller starved by luckier ones). A reservation
# that would wait longer than ARGV[3] seconds is refused and takes nothing.
# With an owner (KEYS[2], the owner's list of tokens reserved in this bucket, due times in
# order; see `parking`): a token further away than ARGV[4] seconds (at most ARGV[5]) is
# reserved for the owner and not waited for; the owner's next call in this bucket spends it,
# or parks again until it is due, taking nothing new. A reserved token not spent within ARGV[6]
# seconds of its time goes back to the bucket (no call used it; spending it that late could
# bunch calls beyond AWS's burst), and the call reserves anew, like any other caller.
# KEYS[1] the bucket; ARGV: rate per second, burst, longest wait, park beyond, longest park,
# grace. Returns {code, seconds}: 0 the token is ours after `seconds` (sleep), 1 park for
# `seconds` (the token is kept for the owner), 2 refused (`seconds` the wait it would take).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens')) or burst
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp')) or now
tokens = math.min(burst, tokens + (now - stamp) * rate)
if #KEYS > 1 then
  while true do
    local held = redis.call('LINDEX', KEYS[2], 0)
    if not held then break end
    local due = tonumber(held)
    if now - due > tonumber(ARGV[6]) then
      redis.call('LPOP', KEYS[2])
      tokens = math.min(burst, tokens + 1)
    elseif due - now > tonumber(ARGV[4]) then
      return {1, tostring(due - now)}
    else
      redis.call('LPOP', KEYS[2])
      return {0, tostring(math.max(0, due - now))}
    end
  end
end
local wait = math.max(0, (1 - tokens) / rate)
local parks = #KEYS > 1 and wait > tonumber(ARGV[4])
local bound = tonumber(ARGV[3])
if parks then bound = tonumber(ARGV[5]) end
if wait > bound then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
  redis.call('EXPIRE', KEYS[1], 3600)
  return {2, tostring(wait)}
end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'stamp', now)
redis.call('EXPIRE', KEYS[1], 3600)
if parks then
  redis.call('RPUSH', KEYS[2], string.format('%.6f', now + wait))
  redis.call('EXPIRE', KEYS[2], 3600)
  return {1, tostring(wait)}
end
return {0, tostring(wait)}
"""
_SLEEP, _PARK, _REFUSED = 0, 1, 2

# Which of AWS's documented buckets (per account and region) each call draws from. A call may
# draw from two: API Gateway limits some operations on their own *and* all of them together.
# Rates and bursts live in settings.AWS_RATE_LIMITS; the sources, checked 2026-12-03:
# - Lambda, "Lambda quotas" → "API requests"
#   (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html):
#   GetFunction 100 requests per second; GetPolicy 15 per second; every other control-plane
#   request (invocations, GetFunction and GetPolicy excluded) 15 per second, shared.
# - API Gateway, "Amazon API Gateway quotas" → "creating, deploying and managing an API"
#   (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): CreateDeployment
#   1 per 5 s, CreateRestApi (regional) 1 per 3 s, DeleteRestApi 1 per 30 s, CreateResource /
#   DeleteResource / CreateApiKey / DeleteApiKey 5 per second, GetResources 5 per 2 s,
#   PutRestApi 1 per second, UpdateUsagePlan 1 per 20 s; all operations together 10 per second
#   with a burst of 40.
# - ECS, "Request throttling for the Amazon ECS API"
#   (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): token
#   buckets per group of actions. Task definition modifications (RegisterTaskDefinition,
#   DeregisterTaskDefinition, DeleteTaskDefinitions) 1 per second with a bucket of 20; service
#   modifications (CreateService, UpdateService, DeleteService) 5 per second with a bucket of
#   50 (CreateCluster, once per environment, is budgeted with them). Reads are not budgeted.
_ECS_OWN_BUCKETS = {
    "RegisterTaskDefinition": "ecs-task-definition-writes",
    "DeregisterTaskDefinition": "ecs-task-definition-writes",
    "DeleteTaskDefinitions": "ecs-task-definition-writes",
    "CreateService": "ecs-service-writes",
    "UpdateService": "ecs-service-writes",
    "DeleteService": "ecs-service-writes",
    "CreateCluster": "ecs-service-writes",
}
_LAMBDA_OWN_BUCKETS = {"GetFunction": "lambda-get-function", "GetPolicy": "lambda-get-policy"}
_LAMBDA_UNBUDGETED = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}
_APIGATEWAY_OWN_BUCKETS = {
    "CreateDeployment": "apigateway-create-deployment",
    "CreateRestApi": "apigateway-create-rest-api",
    "DeleteRestApi": "apigateway-delete-rest-api",
    "CreateResource": "apigateway-resource-writes",
    "DeleteResource": "apigateway-resource-writes",
    "CreateApiKey": "apigateway-api-key-writes",
    "DeleteApiKey": "apigateway-api-key-writes",
    "GetResources": "apigateway-get-resources",
    "PutRestApi": "apigateway-put-rest-api",
    "UpdateUsagePlan": "apigateway-update-usage-plan",
}


def throttle_groups(service: str, operation: str) -> tuple[str, ...]:
    """The buckets one call of `service`.`operation` takes a token from (none: not budgeted).

    `service` as botocore's events name it (the service id, hyphenated): "api-gateway" for the
    REST API client, "apigatewayv2", "lambda", "ecs".
    """
    if service == "ecs":
        own = _ECS_OWN_BUCKETS.get(operation)
        return (own,) if own else ()
    if service == "lambda":
        if operation in _LAMBDA_UNBUDGETED:
            return ()
        return (_LAMBDA_OWN_BUCKETS.get(operation, "lambda-control"),)
    if service in ("api-gateway", "apigatewayv2"):
        own = _APIGATEWAY_OWN_BUCKETS.get(operation)
        return (own, "apigateway-total") if own else ("apigateway-total",)
    return ()


_client: redis.Redis | None = None
_script = None
_reserve: Any = None


def _redis():
    global _client, _script, _reserve
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        _script = _client.register_script(_TAKE)
        _reserve = _client.register_script(_RESERVE)
    return _client, _script


class RateLimited(Exception):  # noqa: N818 — reads as what happened, like AWS's "Throttling"
    """Raised inside `parking` instead of a long sleep: the call's token is `wait` seconds away.

    The token is reserved for the owner (nothing was sent to AWS); the owner's next call in the
    same bucket spends it. The engine parks the deployment and resumes it when it is due.
    """

    def __init__(self, *, group: str, wait: float):
        self.group = group
        self.wait = wait
        super().__init__(
            f"waiting for AWS rate limit ({group_label(group)}), resumes in ~{math.ceil(wait)} s"
        )


def group_label(group: str) -> str:
    """A bucket's name as a user reads it: "ecs task definition writes"."""
    return group.replace("-", " ")


_owner: ContextVar[str | None] = ContextVar("slipway_rate_limit_owner", default=None)


@contextlib.contextmanager
def parking(owner: str) -> Iterator[None]:
    """Within the block, a call whose token is more than AWS_RATE_LIMIT_PARK_AFTER seconds away
    does not sleep in this thread: the token is reserved for `owner` (a deployment) and
    `RateLimited` is raised, so the caller can free the thread and come back when it is due.
    Threads started with a copy of this context (portal.aws.concurrently) park the same way.
    """
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


def _bucket_key(account: str, region: str, group: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return f"{prefix}:aws-bucket:{account}:{region}:{group}"


def take(*, account: str, region: str, group: str, max_wait: float | None = None) -> float:
    """Block until a token is ours; return the seconds waited. Fails open if Redis is down.

    `max_wait` (default AWS_RATE_LIMIT_MAX_WAIT) bounds the waiting; web requests wait less.
    Past it nothing is taken and a throttling error is raised, which the engine treats as
    transient (retry later). Inside `parking`, a wait longer than AWS_RATE_LIMIT_PARK_AFTER
    (up to AWS_RATE_LIMIT_MAX_PARK) raises `RateLimited` instead, the token kept for the owner.
    """
    max_wait = settings.AWS_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
    rate, burst = settings.AWS_RATE_LIMITS[group]
    key = _bucket_key(account, region, group)
    owner = _owner.get()
    keys = [key] if owner is None else [key, f"{key}:held:{owner}"]
    # A reserved token stays good for the time its bucket takes to refill (at least 10 s).
    grace = max(burst / rate, 10.0)
    args = [
        rate,
        burst,
        max_wait,
        settings.AWS_RATE_LIMIT_PARK_AFTER,
        settings.AWS_RATE_LIMIT_MAX_PARK,
        grace,
    ]
    try:
        _redis()
        code, seconds = _reserve(keys=keys, args=args)
    except redis.RedisError:
        log.warning("Rate-limit bucket unavailable (Redis); calling AWS without it")
        return 0.0
    wait = float(seconds)
    if int(code) == _REFUSED:
        raise ClientError(
            {
                "Error": {
                    "Code": "Throttling",
                    "Message": f"Slipway's {group} budget for {account}/{region} is used up; "
                    "retrying later.",
                }
            },
            group,
        )
    if int(code) == _PARK:
        raise RateLimited(group=group, wait=wait)
    if wait > 0:
        time.sleep(wait)
    return wait


def give_back(*, account: str, region: str, group: str) -> None:
    """Return a token taken for a call that was not made (its next bucket parked it)."""
    try:
        client, _ = _redis()
        client.hincrbyfloat(_bucket_key(account, region, group), "tokens", 1)
    except redis.RedisError:
        log.warning("Rate-limit bucket unavailable (Redis); token not given back")


def before_call_handler(*, account: str, region: str, max_wait: float | None = None):
    """A botocore before-call hook that takes a token for throttled operations."""

    def handler(event_name: str, **kwargs) -> None:
        if not settings.AWS_RATE_LIMITS_ENABLED:
            return
        _, service, operation = event_name.split(".", 2)
        taken: list[str] = []
        for group in throttle_groups(service, operation):
            try:
                take(account=account, region=region, group=group, max_wait=max_wait)
            except (RateLimited, ClientError):
                # The call is not made: the tokens its other buckets gave are returned.
                for earlier in taken:
                    give_back(account=account, region=region, group=earlier)
                raise
            taken.append(group)

    return handler


# --- limits on callers (API requests, failed sign-ins) ---------------------------------------
def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    return f"{prefix}:{name}"


def try_take(*buckets: tuple[str, float, int]) -> tuple[int, float]:
    """Take one token from each bucket `(name, rate, burst)` in turn, without waiting, in one
    round trip. Returns (0, 0.0) when every bucket gave one; otherwise the position (from 1)
    of the first empty bucket and the seconds until it has a token (nothing is taken from it
    or the buckets after it). Fails open if Redis is down."""
    position, wait, _ = try_take_and_read(*buckets, read=None)
    return position, wait


def try_take_and_read(
    *buckets: tuple[str, float, int], read: str | None
) -> tuple[int, float, str | None]:
    """`try_take`, and in the same round trip the value of the counter `read` (see
    `counter_bump`): (position, wait, counter). Fails open if Redis is down (counter None)."""
    keys = [_key(name) for name, _, _ in buckets]
    if read is not None:
        keys.append(_key(read))
    args = [value for _, rate, burst in buckets for value in (rate, burst)]
    try:
        _, script = _redis()
        answer = script(keys=keys, args=args)
    except redis.RedisError:
        log.warning("Rate-limit bucket unavailable (Redis); request let through")
        return 0, 0.0, None
    position, wait = answer[0], answer[1]
    counter = answer[2] if len(answer) > 2 and answer[2] is not None else None
    if isinstance(counter, bytes):
        counter = counter.decode()
    return int(position), max(0.0, float(wait)), counter


def counter_bump(name: str) -> bool:
    """Change the counter `name` (read by `try_take_and_read`); False if Redis is down."""
    try:
        client, _ = _redis()
        client.incr(_key(name))
    except redis.RedisError:
        log.warning("Counter %s unavailable (Redis); not bumped", name)
        return False
    return True


def failures(*, name: str) -> tuple[int, int]:
    """(failures counted in the current window, seconds until the window ends)."""
    try:
        client, _ = _redis()
        key = _key(name)
        count, ttl = client.get(key), client.ttl(key)
    except redis.RedisError:
        return 0, 0
    return int(count or 0), max(int(ttl), 0)


def failure_add(*, name: str, window: int) -> int:
    """Count one failure in a window of `window` seconds that starts with the first one."""
    try:
        client, _ = _redis()
        key = _key(name)
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        count, _ = pipe.execute()
    except redis.RedisError:
        return 0
    return int(count)


def failures_reset(*, name: str) -> None:
    """Forget the failures counted under `name` (an administrator unlocking an address)."""
    try:
        client, _ = _redis()
        client.delete(_key(name))
    except redis.RedisError:
        log.warning("Rate-limit counter unavailable (Redis); nothing to reset")
