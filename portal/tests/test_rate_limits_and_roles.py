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


def test_groups_follow_the_documented_aws_limits():
    assert ratelimit.throttle_group("ecs", "UpdateService") == "ecs-mutations"
    assert ratelimit.throttle_group("ecs", "DescribeServices") is None
    assert ratelimit.throttle_group("lambda", "CreateFunction") == "lambda-control"
    assert ratelimit.throttle_group("apigateway", "CreateDeployment") == (
        "apigateway-create-deployment"
    )


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
