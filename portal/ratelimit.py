"""A shared token bucket in Redis per (account, region, throttle group), part of the AWS boundary.

AWS throttles per account and region; several workers and web processes share those limits, so
the bucket lives in Redis and every process takes tokens from the same one. A call that finds
the bucket empty waits for its token (bounded); past the bound it raises a throttling error,
which the engine treats as transient and retries later.
"""

from __future__ import annotations

import logging
import time
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
# that would wait longer than ARGV[3] seconds is refused and takes nothing: the wait comes back
# negative. KEYS[1] the bucket; ARGV: rate per second, burst, longest wait.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens')) or tonumber(ARGV[2])
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp')) or now
tokens = math.min(tonumber(ARGV[2]), tokens + (now - stamp) * rate)
local wait = math.max(0, (1 - tokens) / rate)
if wait > tonumber(ARGV[3]) then return tostring(-wait) end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'stamp', now)
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""

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


def take(*, account: str, region: str, group: str, max_wait: float | None = None) -> float:
    """Block until a token is ours; return the seconds waited. Fails open if Redis is down.

    `max_wait` (default AWS_RATE_LIMIT_MAX_WAIT) bounds the waiting; web requests wait less.
    Past it nothing is taken and a throttling error is raised, which the engine treats as
    transient (retry later).
    """
    max_wait = settings.AWS_RATE_LIMIT_MAX_WAIT if max_wait is None else max_wait
    rate, burst = settings.AWS_RATE_LIMITS[group]
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    key = f"{prefix}:aws-bucket:{account}:{region}:{group}"
    try:
        _redis()
        wait = float(_reserve(keys=[key], args=[rate, burst, max_wait]))
    except redis.RedisError:
        log.warning("Rate-limit bucket unavailable (Redis); calling AWS without it")
        return 0.0
    if wait < 0:
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
    if wait > 0:
        time.sleep(wait)
    return wait


def before_call_handler(*, account: str, region: str, max_wait: float | None = None):
    """A botocore before-call hook that takes a token for throttled operations."""

    def handler(event_name: str, **kwargs) -> None:
        if not settings.AWS_RATE_LIMITS_ENABLED:
            return
        _, service, operation = event_name.split(".", 2)
        for group in throttle_groups(service, operation):
            take(account=account, region=region, group=group, max_wait=max_wait)

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
