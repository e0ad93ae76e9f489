"""How much does Slipway add on top of the AWS calls a deployment needs?

Runs N deployments per kind through the real path (service → Redis → Celery worker → engine →
provisioner → emulator over HTTP) and, in the same process against the same emulator, a plain
boto3 script making the same AWS calls. Prints the wall-time ratio portal/raw (goal ≤ 1.2) and
the AWS calls per deployment. Usage: .venv/bin/python bench/deploy_overhead.py [N]
"""

import contextlib
import sys
import time

import _setup

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main():
    emulator_proc, url = _setup.start_emulator()
    try:
        _setup.setup_django()
        run(url)
    finally:
        emulator_proc.terminate()


def run(url):
    from celery.contrib.testing.worker import start_worker
    from django.contrib.auth import get_user_model

    from catalog import services as catalog_services
    from catalog.models import Environment
    from deployments import services
    from deployments.forms.lambda_ import deterministic_zip
    from deployments.models import Deployment
    from portal import aws, emulator
    from portal.celery import app

    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    team = catalog_services.team_create(slug="bench", name="Bench")
    catalog_services.membership_add(team=team, user=user)
    env = Environment.objects.create(slug="dev", name="Dev", aws_account_id="123456789012")
    code = deterministic_zip("app.py", "def handler(e, c):\n    return 1\n")
    spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory_size": 128,
        "timeout": 3,
        "architecture": "x86_64",
        "description": "",
        "environment": {},
    }

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("slipway-bench")
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
        # Warm up clients and connections so neither side pays first-call costs in the timing.
        warm = services.service_launch(
            user=user,
            owner=team,
            slug="warm",
            kind="lambda",
            environment=env,
            spec=spec,
            code=code,
            confirm=True,
        )
        _wait([warm.pk])
        before = aws.call_counts()
        started = time.perf_counter()
        ids = [
            services.service_launch(
                user=user,
                owner=team,
                slug=f"fn-{i}",
                kind="lambda",
                environment=env,
                spec=spec,
                code=code,
                confirm=True,
            ).pk
            for i in range(N)
        ]
        _wait(ids)
        portal_seconds = time.perf_counter() - started
        calls = aws.call_counts() - before
        statuses = set(Deployment.objects.filter(pk__in=ids).values_list("status", flat=True))

    emulator.reset(url)
    raw_seconds, raw_calls = raw_lambda(N, code)
    portal_calls = sum(calls.values()) / N
    print("kind    N   portal s  raw s   ratio  AWS calls/deploy (portal, raw)  statuses")
    ratio = portal_seconds / raw_seconds
    print(
        f"lambda  {N:<3} {portal_seconds:8.2f}  {raw_seconds:6.2f}  {ratio:5.1f}"
        f"  {portal_calls:5.1f}, {raw_calls / N:4.1f}                     {','.join(statuses)}"
    )
    print(
        "portal calls by operation:", dict(sorted((f"{s}.{o}", c) for (s, o), c in calls.items()))
    )


def raw_lambda(n, code):
    """The same AWS calls as a plain boto3 script would make for n new functions."""
    import json

    from botocore.exceptions import ClientError

    from portal import aws

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    TRUST = json.dumps(trust)  # noqa: N806
    before = aws.total_calls()
    started = time.perf_counter()
    iam, lam = aws.aws_client("iam"), aws.aws_client("lambda")
    role_name = "slipway-dev-lambda-exec"
    try:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="logs",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}
                    ],
                }
            ),
        )
    for i in range(n):
        name = f"fn-{i}-dev"
        with contextlib.suppress(ClientError):
            lam.get_function(FunctionName=name)
        lam.create_function(
            FunctionName=name,
            Role=role,
            Runtime="python3.12",
            Handler="app.handler",
            Code={"ZipFile": code},
            MemorySize=128,
            Timeout=3,
        )
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        lam.get_function_configuration(FunctionName=name)
    return time.perf_counter() - started, aws.total_calls() - before


def _wait(ids, timeout=300):
    from deployments.models import Deployment

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            not Deployment.objects.filter(pk__in=ids)
            .exclude(status__in=Deployment.FINISHED)
            .exists()
        ):
            return
        time.sleep(0.05)
    raise TimeoutError("deployments did not finish")


if __name__ == "__main__":
    main()
