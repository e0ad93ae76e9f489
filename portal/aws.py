"""The AWS boundary: the only module that creates boto3 clients.

Every other part of Slipway asks `aws_client(service, environment=...)` for a client. The factory
applies, in one place:

1. the endpoint (`AWS_ENDPOINT_URL`: the embedded emulator in development and tests, empty for
   real AWS) and the environment's region;
2. credentials: the standard boto3 chain, or an STS AssumeRole into the environment's account
   (ExternalId, session name = the acting user, 15-minute sessions cached until near expiry);
3. botocore "standard" retries with a bounded number of attempts and timeouts; inside a web
   request (`interactive()`, set by portal.middleware.InteractiveAwsMiddleware) short timeouts
   and at most one retry, so a hanging AWS never holds a web worker for long;
4. a shared Redis token bucket per (account, region, throttle group) (portal/ratelimit.py);
5. a per-process call counter (service, operation) that tests and benchmarks read;
6. a guard against AWS calls inside a database transaction (`AWS_CALLS_IN_TRANSACTIONS`:
   "warn" logs them, "raise" refuses them, as the tests do): read AWS first, then write rows
   in a short transaction.

It also sorts AWS errors into transient (retry later) and permanent (fail now) once, so
provisioners and tasks never guess from error strings.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings

from portal import ratelimit

if TYPE_CHECKING:  # pragma: no cover
    from catalog.models import Environment

_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_assumed: dict[tuple, dict] = {}
_calls: Counter = Counter()
log = logging.getLogger(__name__)

# Dummy credentials for the emulator: it accepts anything, and we never want a developer's real
# keys to be sent to it (or real AWS to be hit by accident).
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class Target:
    """Where a client points: region, and the role to assume (empty = default chain)."""

    region: str
    role_arn: str = ""
    external_id: str = ""


def is_emulator() -> bool:
    """True when boto3 talks to the embedded emulator, False for real AWS.

    The one place Slipway asks. Provisioners never do: the emulator's gaps are patched inside
    the emulator process (portal/emulator_*.py) or set up as the environment an admin would
    provide (portal/embedded.py), so each provisioner has one code path, the real-AWS one.
    Demo-only features (demo traffic) and pages that explain the emulator's limits ask here.
    """
    return bool(settings.AWS_ENDPOINT_URL)


def _target_for(environment: Environment | None) -> Target:
    if environment is None:
        return Target(region=settings.AWS_DEFAULT_REGION)
    return Target(
        region=environment.region or settings.AWS_DEFAULT_REGION,
        role_arn=environment.role_arn,
        external_id=environment.external_id,
    )


# True while a web request is being answered: AWS calls then get the web budget.
_interactive: ContextVar[bool] = ContextVar("slipway_aws_interactive", default=False)


@contextlib.contextmanager
def interactive() -> Iterator[None]:
    """Within the block, clients wait briefly for AWS (someone is waiting for the page)."""
    token = _interactive.set(True)
    try:
        yield
    finally:
        _interactive.reset(token)


def is_interactive() -> bool:
    return _interactive.get()


def _budget(interactive: bool) -> tuple[int, float, float]:
    """(attempts, connect timeout, read timeout) for web requests or for background work."""
    if interactive:
        return (
            min(settings.AWS_WEB_MAX_ATTEMPTS, settings.AWS_MAX_ATTEMPTS),
            settings.AWS_WEB_CONNECT_TIMEOUT,
            settings.AWS_WEB_READ_TIMEOUT,
        )
    return settings.AWS_MAX_ATTEMPTS, settings.AWS_CONNECT_TIMEOUT, settings.AWS_READ_TIMEOUT


def _config(region: str, interactive: bool = False) -> Config:
    attempts, connect_timeout, read_timeout = _budget(interactive)
    return Config(
        region_name=region,
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # Clients are shared by a process's threads: one pooled connection per thread, or the
        # calls past ten open (on AWS: a TLS handshake each) and discard connections.
        max_pool_connections=settings.AWS_MAX_POOL_CONNECTIONS,
        # The emulator serves every service on one host; no "data-" style host prefixes.
        inject_host_prefix=not is_emulator(),
    )


_local = threading.local()


class collect_request_ids:  # noqa: N801 — used as a context manager, reads like a function
    """Collect the AWS request ids of every call made in this thread inside the block."""

    def __enter__(self) -> list[str]:
        self.previous = getattr(_local, "ids", None)
        _local.ids = []
        return _local.ids

    def __exit__(self, *exc) -> None:
        ids = _local.ids
        _local.ids = self.previous
        if self.previous is not None:
            self.previous.extend(ids)


def _note_request_id(http_response=None, parsed=None, **kwargs) -> None:
    ids = getattr(_local, "ids", None)
    if ids is not None and isinstance(parsed, dict):
        request = parsed.get("ResponseMetadata", {}).get("RequestId")
        if request:
            ids.append(request)


def _count_call(event_name: str, **kwargs) -> None:
    # event_name is "before-call.<service>.<Operation>"
    _, service, operation = event_name.split(".", 2)
    with _lock:
        _calls[(service, operation)] += 1


class AwsCallInTransaction(RuntimeError):
    """An AWS call made while a database transaction was open (AWS_CALLS_IN_TRANSACTIONS)."""


def in_transaction() -> bool:
    """True while this thread has a database transaction open.

    The transactions Django's test cases open around each test do not count: they are not
    part of what the code under test does.
    """
    from django.db import connections

    return any(
        not block._from_testcase  # type: ignore[attr-defined]  # set by Django's TestCase
        for connection in connections.all(initialized_only=True)
        for block in connection.atomic_blocks
    )


_recorders: list[list[tuple[str, bool]]] = []


@contextlib.contextmanager
def recorded_calls() -> Iterator[list[tuple[str, bool]]]:
    """Record every AWS request this process sends inside the block, as it leaves:
    ("<service>.<Operation>", whether a database transaction was open). For tests."""
    calls: list[tuple[str, bool]] = []
    with _lock:
        _recorders.append(calls)
    try:
        yield calls
    finally:
        with _lock:
            _recorders.remove(calls)


def _refuse_in_transaction(event_name: str, **kwargs) -> None:
    # event_name is "before-send.<service>.<Operation>": the request is about to leave.
    operation = event_name.split(".", 1)[1]
    open_transaction = in_transaction()
    with _lock:
        for calls in _recorders:
            calls.append((operation, open_transaction))
    mode = settings.AWS_CALLS_IN_TRANSACTIONS
    if mode not in ("warn", "raise") or not open_transaction:
        return
    message = f"AWS call {operation} made inside a database transaction"
    if mode == "raise":
        raise AwsCallInTransaction(message)
    log.warning(message, stack_info=True)


def _session_name(actor: str) -> str:
    # RoleSessionName allows [\w+=,.@-]{2,64}; usernames may hold other characters.
    cleaned = re.sub(r"[^\w+=,.@-]", "-", actor or "slipway")[:64]
    return cleaned if len(cleaned) >= 2 else "slipway"


def _assumed_credentials(target: Target, actor: str) -> dict:
    """Credentials for the target's role, cached until five minutes before they expire."""
    key = (target.role_arn, target.external_id, _session_name(actor))
    with _lock:
        cached = _assumed.get(key)
    if cached and cached["expires_at"] - 300 > time.time():
        return cached["credentials"]
    kwargs = {
        "RoleArn": target.role_arn,
        "RoleSessionName": _session_name(actor),
        "DurationSeconds": settings.AWS_ROLE_SESSION_SECONDS,
    }
    if target.external_id:
        kwargs["ExternalId"] = target.external_id
    creds = _raw_client("sts", Target(region=target.region), None).assume_role(**kwargs)[
        "Credentials"
    ]
    credentials = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    with _lock:
        _assumed[key] = {
            "credentials": credentials,
            "expires_at": creds["Expiration"].timestamp(),
        }
    return credentials


def _raw_client(service: str, target: Target, credentials: dict | None, account: str = ""):
    """Build (or reuse) a client; clients are thread-safe and costly to create, so cache them."""
    endpoint = settings.AWS_ENDPOINT_URL or None
    if endpoint and credentials is None:
        credentials = EMULATOR_CREDENTIALS
    cred_key = tuple(sorted((credentials or {}).items()))
    interactive = is_interactive()
    key = (service, target.region, endpoint, cred_key, _budget(interactive), account)
    with _lock:
        client = _clients.get(key)
    if client is not None:
        return client
    client = boto3.client(
        service,
        endpoint_url=endpoint,
        config=_config(target.region, interactive),
        **(credentials or {}),
    )
    max_wait = settings.AWS_WEB_RATE_LIMIT_MAX_WAIT if interactive else None
    # The token first: a call its bucket refuses never reaches AWS and is not counted.
    client.meta.events.register(
        "before-call",
        ratelimit.before_call_handler(account=account, region=target.region, max_wait=max_wait),
    )
    client.meta.events.register("before-call", _count_call)
    client.meta.events.register("before-send", _refuse_in_transaction)
    client.meta.events.register("after-call", _note_request_id)
    with _lock:
        _clients.setdefault(key, client)
        return _clients[key]


def aws_client(service: str, *, environment: Environment | None = None, actor: str = ""):
    """Return a boto3 client for `service` bound to `environment` (the one way to reach AWS).

    `actor` is the Slipway username on whose behalf the call is made; it becomes the STS
    session name, so CloudTrail shows who did what.
    """
    target = _target_for(environment)
    credentials = _assumed_credentials(target, actor) if target.role_arn else None
    account = environment.aws_account_id if environment is not None else "default"
    return _raw_client(service, target, credentials, account)


def reset_clients() -> None:
    """Forget cached clients and credentials (tests that change the endpoint use this)."""
    with _lock:
        _clients.clear()
        _assumed.clear()


# --- call counting -------------------------------------------------------------------------------
def call_counts() -> Counter:
    """A copy of the per-process count of AWS API calls, keyed by (service, Operation)."""
    with _lock:
        return Counter(_calls)


def total_calls() -> int:
    with _lock:
        return sum(_calls.values())


# --- error sorting -------------------------------------------------------------------------------
TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServerException",
    "ServiceException",
    "ResourceConflictException",  # Lambda: an update is still in progress
    "ConcurrentModificationException",
    "ConflictException",
    "OperationAbortedException",
    "PriorRequestNotComplete",
    "ResourceInUseException",  # DynamoDB: the table is still being created or updated
}
# IAM roles take seconds to propagate: Lambda refuses a just-created role with this message.
_TRANSIENT_MESSAGES = ("cannot be assumed by Lambda", "role defined for the function cannot be")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "") or ""
    return type(exc).__name__


# AWS (or the network to it) did not answer within the client's timeouts.
TIMEOUT_ERRORS = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError)
TIMEOUT_MESSAGE = "AWS did not answer in time; nothing was changed. Try again in a minute."


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TIMEOUT_ERRORS)


def error_message(exc: BaseException) -> str:
    """The text a user should read: AWS's own error code and message."""
    if is_timeout(exc):
        return f"{TIMEOUT_MESSAGE} ({type(exc).__name__})"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = err.get("Code") or f"HTTP {status}"
        return f"{code}: {err.get('Message') or 'no message from AWS'}"
    return f"{type(exc).__name__}: {exc}"


def request_id(exc_or_response: Any) -> str:
    response = getattr(exc_or_response, "response", exc_or_response)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("RequestId", "") or ""
    return ""


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying later: throttling, 5xx, conflicts, network trouble."""
    if isinstance(
        exc,
        (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError),
    ):
        return True
    if isinstance(exc, ClientError):
        if error_code(exc) in TRANSIENT_CODES:
            return True
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500 or status == 429:
            return True
        message = exc.response.get("Error", {}).get("Message", "")
        return any(m in message for m in _TRANSIENT_MESSAGES)
    return isinstance(exc, BotoCoreError) and not isinstance(exc, ClientError)


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    return code.endswith("NotFoundException") or code in {"NoSuchEntity", "NotFound"}


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent AWS reads at once (clients are thread-safe); their results in order.

    For calls that only talk to AWS through clients the caller already holds (boto3 must not
    create clients from several threads, and a thread that touched the database would leave a
    connection open). The first call runs in this thread, the others in short-lived threads
    that share this thread's request-id collection and web/background budget. Every call
    finishes before the first error (in call order) is raised.
    """
    if len(calls) < 2:
        return [call() for call in calls]
    ids = getattr(_local, "ids", None)
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(index: int) -> None:
        previous = getattr(_local, "ids", None)
        _local.ids = ids
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 — raised in the caller's thread below
            errors[index] = exc
        finally:
            _local.ids = previous

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(run, i), daemon=True)
        for i in range(1, len(calls))
    ]
    for thread in threads:
        thread.start()
    run(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
    return results
