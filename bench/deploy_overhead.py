"""How much does Slipway add on top of the AWS calls a deployment needs?

Runs N deployments per kind through the real path (service → Redis → Celery worker → engine →
provisioner → emulator over HTTP) and, in the same process against the same emulator, a plain
boto3 script that leaves the same resources in AWS (including the one default CloudWatch alarm
Slipway puts on every deployed service). Prints, with the load average, the wall-time ratio
portal/raw (goal ≤ 1.2) and the AWS calls per deployment and their ratio (goal ≤ 1.3), and
whether each goal is met. The deployment events Slipway publishes to the environment's SNS
topic (a notification the plain script has no counterpart for) are counted on their own line.

Both sides of Slipway run as production runs them, as they would serve N requests arriving
at once. The worker is a process of its own (bench/_worker.py: `celery worker` with the pool and
threads of SLIPWAY_WORKER_POOL / SLIPWAY_WORKER_CONCURRENCY, threads and 16 as shipped), as the
Procfile's worker is beside gunicorn; it publishes its AWS call counts to Redis, which this
bench adds to the web side's. The web side is this process: the N plan-and-confirm requests are
served by SLIPWAY_WEB_THREADS threads (8, gunicorn's threads per web process in
portal/gunicorn.conf.py; 1 plans them one after another). Until 2026-12-03 the worker ran as
threads inside this process, so planning and running shared one interpreter lock, which
production's two processes do not. The plain script runs its deployments one after another in
this process, with the worker stopped. The planning line prints both the seconds until the last
plan was confirmed and the requests' own seconds added up (what one thread would have taken),
and the next line the web process's CPU per request (this process's CPU time while planning,
which the load of the machine affects far less than the seconds).
Usage: .venv/bin/python bench/deploy_overhead.py [N]
"""

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import _setup

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10


def main():
    emulator_proc, url = _setup.start_emulator()
    try:
        _setup.setup_django()
        run(url)
    finally:
        emulator_proc.terminate()


KINDS = {
    # kind → form overrides for deployment i (the create form builds and validates the spec)
    "lambda": lambda i: {"runtime": "python3.12"},
    "ecs": lambda i: {"image": "public.ecr.aws/nginx/nginx:1.27", "lb_value": f"/s{i}/*"},
    "apigateway": lambda i: {"routes": "GET /hello -> target"},
    "apigateway-http": lambda i: {"routes": "GET /hello -> target", "api_type": "http"},
}


def run(url):
    from portal import emulator

    user, team, env = _setup.fixtures()
    rows = []
    worker = _start_worker()
    try:
        # The API routes to a Lambda; deploy it (and warm every client) before timing.
        _launch(user, team, env, "lambda", "target", {})
        _launch(user, team, env, "ecs", "warm-ecs", KINDS["ecs"](999))
        for kind, overrides in KINDS.items():
            rows.append(_portal_run(user, team, env, kind, overrides, worker.pid))
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    for kind, _, calls, _ in rows:
        ops = dict(sorted((f"{s}.{o}", c) for (s, o), c in calls.items()))
        print(f"{kind} calls by operation (N={N}):", ops)
    emulator.reset(url)
    raw = {
        "lambda": raw_lambda,
        "ecs": raw_ecs,
        "apigateway": raw_apigateway,
        "apigateway-http": raw_apigateway_http,
    }
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; N={N} deployments per kind, all requested at once")
    print(
        "kind             portal s  raw s  wall ratio (≤1.2)   calls/deploy portal raw"
        "  calls ratio (≤1.3)   events/deploy  statuses"
    )
    for kind, seconds, calls, statuses in rows:
        raw_seconds, raw_calls = raw[kind](N)
        events = calls.pop(EVENTS, 0)
        portal, plain = sum(calls.values()) / N, raw_calls / N
        wall_ratio, call_ratio = seconds / raw_seconds, portal / plain
        print(
            f"{kind:<15}  {seconds:8.2f}  {raw_seconds:5.2f}"
            f"  {wall_ratio:5.2f} {_met(wall_ratio, 1.2)}        {portal:5.1f}  {plain:4.1f}"
            f"  {call_ratio:5.2f} {_met(call_ratio, 1.3)}"
            f"          {events / N:4.1f}        {','.join(statuses)}"
        )
    print(
        f"of the portal's seconds, planning the N deployments in {WEB_THREADS} web thread(s)"
        " (read AWS, write the service, instance, plan, audit and confirm rows; until the last"
        " was confirmed / the requests' own seconds added up): "
        + ", ".join(f"{kind} {s:.2f} / {total:.2f}" for kind, (s, total, _) in PLANNING.items())
    )
    print(
        "the web process's CPU per plan-and-confirm request (this process; the worker is its"
        " own), ms: "
        + ", ".join(f"{kind} {cpu / N * 1000:.1f}" for kind, (_, _, cpu) in PLANNING.items())
    )


EVENTS = ("sns", "Publish")  # deployment events, published by their own task


def _met(ratio: float, goal: float) -> str:
    return "met    " if ratio <= goal else "NOT met"


def _alarm(name: str, namespace: str, metric: str, dimension: str) -> None:
    """The default alarm Slipway puts on a deployed service (one PutMetricAlarm)."""
    from portal import aws

    aws.aws_client("cloudwatch").put_metric_alarm(
        AlarmName=f"raw-{name}-errors",
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension, "Value": name}],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def _start_worker() -> subprocess.Popen:
    """The Celery worker, a process of its own as in production (pool and threads from the
    settings), consuming the bench queue; it publishes its AWS call counts to Redis."""
    log = open(_setup.ROOT / "var" / "bench-overhead-worker.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._worker",
            "--queues",
            os.environ["CELERY_QUEUE"],
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"overhead{os.getpid()}@%h",
        ],
        cwd=_setup.ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _worker_calls(pid: int) -> Counter:
    """The worker's AWS calls so far, by (service, operation), once its published counts have
    stopped changing (it publishes twice a second; the event publisher's tasks run last)."""
    from django.conf import settings

    from portal import ratelimit

    client, _ = ratelimit._redis()
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    key = f"{prefix}:bench-calls:{pid}"
    last = None
    while True:
        found = Counter(
            {tuple(op.decode().split(".", 1)): int(n) for op, n in client.hgetall(key).items()}
        )
        if found == last:
            return found
        last = found
        time.sleep(1.2)


def _launch(user, team, env, kind, slug, overrides):
    _wait([_launch_async(user, team, env, kind, slug, overrides)])


def _portal_run(user, team, env, label, overrides, worker_pid):
    """N deployments of `label` (a kind, or kind-variant) through the worker, all requested at
    once; wall time + calls (the web side's, counted here, and the worker's)."""
    from deployments.models import Deployment
    from portal import aws

    kind, _, variant = label.partition("-")
    before = aws.call_counts() + _worker_calls(worker_pid)
    started, cpu = time.perf_counter(), time.process_time()

    def request(i: int) -> tuple[int, float]:
        """One web request: plan and confirm deployment i (a connection of its own)."""
        from django.db import connection

        began = time.perf_counter()
        try:
            slug = f"{kind[:3]}{variant[:1]}-{i}"
            return _launch_async(user, team, env, kind, slug, overrides(i)), (
                time.perf_counter() - began
            )
        finally:
            if WEB_THREADS > 1:
                connection.close()

    if WEB_THREADS > 1:
        with ThreadPoolExecutor(WEB_THREADS) as web:
            answers = list(web.map(request, range(N)))
    else:
        answers = [request(i) for i in range(N)]
    ids = [pk for pk, _ in answers]
    planned, cpu = time.perf_counter() - started, time.process_time() - cpu
    _wait(ids)
    seconds = time.perf_counter() - started
    statuses = set(Deployment.objects.filter(pk__in=ids).values_list("status", flat=True))
    PLANNING[label] = (planned, sum(took for _, took in answers), cpu)
    return label, seconds, aws.call_counts() + _worker_calls(worker_pid) - before, statuses


# kind → (seconds until the last plan was confirmed, the requests' own seconds added up, this
# process's CPU seconds meanwhile: the web side's alone, the worker being a process of its own)
PLANNING: dict[str, tuple[float, float, float]] = {}
# The web's threads (gunicorn's `threads` per process, portal/gunicorn.conf.py) serve the N
# requests; SLIPWAY_WEB_THREADS=1 plans them one after another in this thread instead.
WEB_THREADS = int(os.environ.get("SLIPWAY_WEB_THREADS", "8"))


def _launch_async(user, team, env, kind, slug, overrides):
    # The environment the deploy uses is the form's, read afresh by each request (the view's).
    return _setup.submit(user, team, env, kind, slug, overrides)


def raw_lambda(n):
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
    from deployments.forms.lambda_ import DEFAULT_PYTHON_SOURCE, deterministic_zip

    code = deterministic_zip("app.py", DEFAULT_PYTHON_SOURCE)
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
        name = f"lam-{i}-dev"
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
        _alarm(name, "AWS/Lambda", "Errors", "FunctionName")
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


def raw_ecs(n):
    """A plain script that leaves what Slipway leaves: a log group kept 30 days, a task
    definition logging to it, a target group that drains replaced tasks in 30 s (AWS's default
    is 300 s), a listener rule, a service with the circuit breaker on, one describe to see it
    and the alarm; everything tagged. The network and cluster exist already (set up untimed);
    the execution role is looked up once for the n services, as raw_lambda does its role."""
    import json

    from botocore.exceptions import ClientError

    from catalog.models import Environment
    from portal import aws
    from portal.embedded import embedded_network_ensure

    env = Environment.objects.get(slug="dev")
    embedded_network_ensure(environment=env)
    env.refresh_from_db()
    ecs, elb = aws.aws_client("ecs"), aws.aws_client("elbv2")
    logs, iam = aws.aws_client("logs"), aws.aws_client("iam")
    before = aws.total_calls()
    started = time.perf_counter()
    try:
        role = iam.get_role(RoleName="raw-ecs-exec")["Role"]["Arn"]
    except ClientError:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="raw-ecs-exec", AssumeRolePolicyDocument=json.dumps(trust))
        role = role["Role"]["Arn"]
    for i in range(n):
        name = f"ecs-{i}-dev"
        tags = {"slipway:service": name, "slipway:environment": "dev"}
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        lower_tags = [{"key": k, "value": v} for k, v in tags.items()]
        logs.create_log_group(logGroupName=f"/raw/{name}", tags=tags)
        logs.put_retention_policy(logGroupName=f"/raw/{name}", retentionInDays=30)
        task = ecs.register_task_definition(
            family=name,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            executionRoleArn=role,
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "public.ecr.aws/nginx/nginx:1.27",
                    "portMappings": [{"containerPort": 8080}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": f"/raw/{name}",
                            "awslogs-region": "us-east-1",
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                }
            ],
            tags=lower_tags,
        )["taskDefinition"]["taskDefinitionArn"]
        group = elb.create_target_group(
            Name=f"raw-{i}",
            Protocol="HTTP",
            Port=8080,
            VpcId=env.vpc_id,
            TargetType="ip",
            HealthCheckPath="/",
            Tags=tag_list,
        )["TargetGroups"][0]["TargetGroupArn"]
        elb.modify_target_group_attributes(
            TargetGroupArn=group,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
        )
        elb.create_rule(
            ListenerArn=env.alb_listener_arn,
            Priority=100 + i,
            Conditions=[{"Field": "path-pattern", "Values": [f"/s{i}/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": group}],
            Tags=tag_list,
        )
        ecs.create_service(
            cluster=env.ecs_cluster,
            serviceName=name,
            taskDefinition=task,
            desiredCount=1,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": env.subnet_ids,
                    "securityGroups": env.security_group_ids,
                }
            },
            loadBalancers=[
                {"targetGroupArn": group, "containerName": "app", "containerPort": 8080}
            ],
            healthCheckGracePeriodSeconds=60,
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
            tags=lower_tags,
            propagateTags="SERVICE",
        )
        ecs.describe_services(cluster=env.ecs_cluster, services=[name])
        _alarm(name, "AWS/ECS", "CPUUtilization", "ServiceName")
    return time.perf_counter() - started, aws.total_calls() - before


def raw_apigateway(n):
    """A plain script: REST API, one resource + method + Lambda proxy integration, the invoke
    permission, a deployment into a throttled stage, and one read of the deployment."""
    from portal import aws

    lam, api = aws.aws_client("lambda"), aws.aws_client("apigateway")
    target = _raw_target()
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{target}/invocations"
    before = aws.total_calls()
    started = time.perf_counter()
    for i in range(n):
        rest = api.create_rest_api(name=f"api-{i}-dev")["id"]
        root = api.get_resources(restApiId=rest)["items"][0]["id"]
        resource = api.create_resource(restApiId=rest, parentId=root, pathPart="hello")["id"]
        api.put_method(
            restApiId=rest, resourceId=resource, httpMethod="GET", authorizationType="NONE"
        )
        api.put_integration(
            restApiId=rest,
            resourceId=resource,
            httpMethod="GET",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=uri,
        )
        lam.add_permission(
            FunctionName=target,
            StatementId=f"raw-{i}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
        deployment = api.create_deployment(restApiId=rest, stageName="dev")["id"]
        api.update_stage(
            restApiId=rest,
            stageName="dev",
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "50"},
            ],
        )
        api.get_deployment(restApiId=rest, deploymentId=deployment)
        _alarm(f"api-{i}-dev", "AWS/ApiGateway", "5XXError", "ApiName")
    return time.perf_counter() - started, aws.total_calls() - before


def _raw_target() -> str:
    """The target function's ARN (untimed set-up); raw_lambda made it already."""
    from botocore.exceptions import ClientError

    from portal import aws

    lam = aws.aws_client("lambda")
    try:
        lam.get_function(FunctionName="lam-0-dev")
    except ClientError:
        raw_lambda(1)
    return lam.get_function(FunctionName="lam-0-dev")["Configuration"]["FunctionArn"]


def raw_apigateway_http(n):
    """A plain script: HTTP API, one Lambda proxy integration and route, the invoke permission,
    an auto-deploy stage with throttling, and one read of the stage."""
    from portal import aws

    lam, v2 = aws.aws_client("lambda"), aws.aws_client("apigatewayv2")
    target = _raw_target()
    before = aws.total_calls()
    started = time.perf_counter()
    for i in range(n):
        api = v2.create_api(Name=f"http-{i}-dev", ProtocolType="HTTP")["ApiId"]
        integration = v2.create_integration(
            ApiId=api,
            IntegrationType="AWS_PROXY",
            IntegrationUri=target,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        v2.create_route(ApiId=api, RouteKey="GET /hello", Target=f"integrations/{integration}")
        lam.add_permission(
            FunctionName=target,
            StatementId=f"raw-http-{i}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
        v2.create_stage(
            ApiId=api,
            StageName="dev",
            AutoDeploy=True,
            DefaultRouteSettings={"ThrottlingRateLimit": 100.0, "ThrottlingBurstLimit": 50},
        )
        v2.get_stage(ApiId=api, StageName="dev")
        _alarm(f"http-{i}-dev", "AWS/ApiGateway", "5XXError", "ApiId")
    return time.perf_counter() - started, aws.total_calls() - before


if __name__ == "__main__":
    main()
