"""The boundary's shared token bucket, in-boundary retries, and STS role assumption."""

import threading
import time

import pytest
from botocore.exceptions import ClientError

from catalog.models import Environment
from portal import aws, ratelimit
from tests.faultproxy import Rule


@pytest.fixture
def fresh_buckets(settings):
    # A key prefix of its own, so earlier calls in the session have not spent these tokens.
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"rl-{time.monotonic_ns()}"}
    }
    return settings


def test_calls_in_a_throttle_group_share_one_bucket(aws_emulator, fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {**fresh_buckets.AWS_RATE_LIMITS, "lambda-control": (10.0, 2)}
    lam = aws.aws_client("lambda")

    def burst():
        for _ in range(3):
            lam.list_functions()

    started = time.monotonic()
    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    # 12 calls, 2 free (burst), then 10 per second: at least ~1 s however fast the machine.
    assert elapsed >= 0.9


def test_unthrottled_operations_do_not_wait(aws_emulator, fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {**fresh_buckets.AWS_RATE_LIMITS, "lambda-control": (0.1, 1)}
    iam = aws.aws_client("iam")
    started = time.monotonic()
    for _ in range(5):
        iam.list_roles()  # IAM is in no throttle group
    assert time.monotonic() - started < 5


def test_an_empty_bucket_past_the_wait_bound_is_a_transient_error(fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {"apigateway-create-deployment": (0.01, 1)}
    fresh_buckets.AWS_RATE_LIMIT_MAX_WAIT = 0.5
    ratelimit.take(account="1", region="r", group="apigateway-create-deployment")
    with pytest.raises(ClientError) as caught:
        ratelimit.take(account="1", region="r", group="apigateway-create-deployment")
    assert aws.is_transient(caught.value)


def test_waiting_callers_each_reserve_the_next_token_and_none_starves(fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {"lambda-control": (10.0, 1)}
    waits: list[float] = []

    def call():
        waits.append(ratelimit.take(account="1", region="r", group="lambda-control", max_wait=3))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 20 callers, 1 token now and 10 a second: every one is served, the last after ≈ 1.9 s.
    assert len(waits) == 20
    assert max(waits) == pytest.approx(1.9, abs=0.3)


def test_a_refused_reservation_takes_nothing(fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {"lambda-control": (1.0, 1)}
    take = ratelimit.take
    assert take(account="1", region="r", group="lambda-control") == 0
    with pytest.raises(ClientError):
        take(account="1", region="r", group="lambda-control", max_wait=0.5)
    assert take(account="1", region="r", group="lambda-control", max_wait=2) <= 1.0


def test_buckets_follow_aws_documented_limits_per_operation():
    groups = ratelimit.throttle_groups
    # ECS: task definitions 1/s (bucket 20) apart from services 5/s (bucket 50).
    assert groups("ecs", "UpdateService") == ("ecs-service-writes",)
    assert groups("ecs", "RegisterTaskDefinition") == ("ecs-task-definition-writes",)
    assert groups("ecs", "DescribeServices") == ()
    assert groups("lambda", "CreateFunction") == ("lambda-control",)
    # AWS gives GetFunction 100/s of its own; it must not spend the 15/s control-plane bucket.
    assert groups("lambda", "GetFunction") == ("lambda-get-function",)
    assert groups("lambda", "GetPolicy") == ("lambda-get-policy",)
    assert groups("lambda", "Invoke") == ()
    # API Gateway: the operation's own limit and the 10/s of all operations together.
    assert groups("api-gateway", "CreateDeployment") == (
        "apigateway-create-deployment",
        "apigateway-total",
    )
    assert groups("api-gateway", "GetStage") == ("apigateway-total",)
    assert groups("apigatewayv2", "GetApis") == ("apigateway-total",)


@pytest.mark.parametrize("service", ["apigateway", "apigatewayv2"])
def test_api_gateway_calls_spend_the_all_operations_bucket(aws_emulator, fresh_buckets, service):
    fresh_buckets.AWS_RATE_LIMITS = {**fresh_buckets.AWS_RATE_LIMITS, "apigateway-total": (0.01, 1)}
    fresh_buckets.AWS_RATE_LIMIT_MAX_WAIT = 0.5
    client = aws.aws_client(service)
    read = client.get_rest_apis if service == "apigateway" else client.get_apis
    read()
    with pytest.raises(ClientError, match="apigateway-total budget"):
        read()


def test_shipped_rates_are_the_documented_ones():
    from portal import settings as shipped

    limits = shipped.AWS_RATE_LIMITS
    assert limits["lambda-get-function"][0] == 100 and limits["lambda-control"][0] == 15
    assert limits["apigateway-create-deployment"][0] == 0.2  # one per 5 s
    assert limits["apigateway-total"] == (10.0, 40)
    assert limits["ecs-task-definition-writes"] == (1.0, 20)
    assert limits["ecs-service-writes"] == (5.0, 50)
    every = {
        g
        for s, ops in _SOME_OPERATIONS.items()
        for o in ops
        for g in ratelimit.throttle_groups(s, o)
    }
    assert every <= set(limits), every - set(limits)


_SOME_OPERATIONS = {
    "lambda": ("CreateFunction", "GetFunction", "GetPolicy", "PublishVersion"),
    "api-gateway": tuple(ratelimit._APIGATEWAY_OWN_BUCKETS) + ("GetStage",),
    "ecs": ("CreateService", "RegisterTaskDefinition"),
}


def test_get_function_does_not_spend_the_control_plane_bucket(aws_emulator, fresh_buckets):
    fresh_buckets.AWS_RATE_LIMITS = {
        **fresh_buckets.AWS_RATE_LIMITS,
        "lambda-control": (0.5, 1),
        "lambda-get-function": (100.0, 100),
    }
    lam = aws.aws_client("lambda")
    started = time.monotonic()
    for _ in range(10):
        with pytest.raises(ClientError):
            lam.get_function(FunctionName="no-such-function")
    lam.list_functions()  # the one control-plane token is still there
    assert time.monotonic() - started < 1.5


def test_standard_retries_inside_the_boundary_absorb_throttling(aws_emulator, faults, settings):
    settings.AWS_MAX_ATTEMPTS = 4
    faults.add(Rule("ListFunctions", times=2, status=429, code="TooManyRequestsException"))
    aws.aws_client("lambda").list_functions()
    assert faults.faults["ListFunctions"] == 2, faults.counts
    assert faults.counts["ListFunctions"] == 3
    settings.AWS_MAX_ATTEMPTS = 1
    faults.add(Rule("ListFunctions", times=1, status=429, code="TooManyRequestsException"))
    with pytest.raises(ClientError):
        aws.aws_client("lambda").list_functions()


@pytest.mark.django_db
def test_environment_role_is_assumed_with_the_user_as_session_name(aws_clean):
    iam = aws.aws_client("iam")
    role_arn = iam.create_role(
        RoleName="slipway-deployer",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    environment = Environment.objects.create(
        slug="staging",
        name="Staging",
        aws_account_id="123456789012",
        role_arn=role_arn,
        external_id="slipway-ext",
    )
    aws.reset_clients()
    sts = aws.aws_client("sts", environment=environment, actor="alice@example.com")
    identity = sts.get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/slipway-deployer/alice@example.com")
    # Cached: a second client for the same user makes no new AssumeRole call.
    before = aws.call_counts()[("sts", "AssumeRole")]
    aws.aws_client("lambda", environment=environment, actor="alice@example.com")
    assert aws.call_counts()[("sts", "AssumeRole")] == before


def test_a_workers_threads_each_get_a_pooled_aws_connection(settings):
    # A worker's threads share one client per service; with fewer pooled connections than
    # threads, calls past the pool open a connection (on AWS a TLS handshake) and discard it.
    aws.reset_clients()
    client = aws.aws_client("ecs")
    assert client.meta.config.max_pool_connections >= settings.CELERY_WORKER_CONCURRENCY


def test_a_call_its_bucket_refuses_is_not_counted(aws_emulator, fresh_buckets):
    # The load bench computes its floor from the calls counted: one that never reached AWS
    # must not count (it took no token).
    fresh_buckets.AWS_RATE_LIMITS = {**fresh_buckets.AWS_RATE_LIMITS, "lambda-control": (0.01, 1)}
    fresh_buckets.AWS_RATE_LIMIT_MAX_WAIT = 0.5
    lam = aws.aws_client("lambda")
    before = aws.call_counts()
    lam.list_functions()
    with pytest.raises(ClientError, match="lambda-control budget"):
        lam.list_functions()
    assert (aws.call_counts() - before)[("lambda", "ListFunctions")] == 1


def test_a_workers_threads_can_all_wait_on_the_slowest_deploy_bucket():
    # The threads of two workers (bench/load.py runs two) may all wait on ECS's 1 task
    # definition per second: none may be refused for waiting its turn (it would be retried as
    # a "Temporary AWS error"), and none may sleep so long it is taken for a lost worker.
    from portal import settings as shipped

    rate, _ = shipped.AWS_RATE_LIMITS["ecs-task-definition-writes"]
    assert 2 * shipped.CELERY_WORKER_CONCURRENCY / rate <= shipped.AWS_RATE_LIMIT_MAX_WAIT
    assert shipped.AWS_RATE_LIMIT_MAX_WAIT < shipped.DEPLOY_STALE_SECONDS
