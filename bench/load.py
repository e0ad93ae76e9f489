"""Many deploys at once, against AWS's documented rate limits, and a worker SIGKILLed mid-way.

Phase 1 plans ECS_COUNT ECS services and LAMBDA_COUNT Lambda functions (untimed, with the
environment as a web request reads it), waits until every bucket is full, then confirms them
all at once and follows them through the real path (service → Redis → Celery worker
processes, threads pool → engine → emulator over HTTP) with the shipped token buckets on. It
prints the drain time, the floor those buckets set for the calls the deploys made (per bucket:
(tokens taken − tokens it held at the clicks) / rate; the floor is the largest), the ratio,
where the time went (bench/_load_profile.py), throttling errors users saw, duplicates, and the
load average.
Phase 2 submits KILL_COUNT more Lambda deploys, SIGKILLs one worker when a third of them are
done, and prints how long its deployments took to run again, and what was lost or duplicated.

Usage: .venv/bin/python bench/load.py [ECS_COUNT [LAMBDA_COUNT [KILL_COUNT]]]  (150 50 40)
"""

import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter

import _setup

ECS_COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 150
LAMBDA_COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 50
KILL_COUNT = int(sys.argv[3]) if len(sys.argv) > 3 else 40
WORKERS = int(os.environ.get("SLIPWAY_BENCH_WORKERS", "2"))
RECONCILE_EVERY = 5  # what beat does, at the shipped interval

os.environ.update(
    SLIPWAY_AWS_RATE_LIMITS="true",  # the point of this benchmark
    CACHE_KEY_PREFIX=f"slipway-load-{os.getpid()}",  # fresh, full buckets
    SLIPWAY_DEPLOY_POLL_SECONDS="1",
)
THROTTLING = ("Throttling", "TooManyRequests", "Rate exceeded", "budget for")


def main():
    emulator_proc, _ = _setup.start_emulator()
    workers: list[subprocess.Popen] = []
    try:
        _setup.setup_django()
        user, team, env = _setup.fixtures()
        _launch_and_wait(user, team, env, "lambda", "warm-lambda")
        _launch_and_wait(user, team, env, "ecs", "warm-ecs", lb="/warm/*")
        # The warm-up stored the embedded network on the environment's row; plan with it, as a
        # web request (which loads the row afresh) does. A stale copy had every ECS plan create
        # the network again, one deploy at a time under its lock.
        env.refresh_from_db()
        workers = [_start_worker(i) for i in range(WORKERS)]
        _until_full(env)  # the warm-ups spent tokens
        drain(user, team, env)
        kill_and_resume(user, team, env, workers)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        emulator_proc.terminate()


def _start_worker(i: int) -> subprocess.Popen:
    log = open(_setup.ROOT / "var" / f"bench-load-worker-{i}.log", "w")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench._worker",
            "--queues",
            "slipway-bench",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"load{i}@%h",
        ],
        cwd=_setup.ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _submit(user, team, env, kind, slug, lb="", confirm=True):
    overrides = {"runtime": "python3.12"}
    if kind == "ecs":
        overrides = {"image": "public.ecr.aws/nginx/nginx:1.27", "lb_value": lb}
    return _setup.submit(user, team, env, kind, slug, overrides, confirm=confirm)


def _confirm_all(user, ids):
    """Every user clicks "Deploy" at once: the confirmations run in 8 threads, as web threads."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from deployments import services
    from deployments.models import Deployment

    def confirm(pk):
        try:
            deployment = Deployment.objects.select_related("instance").get(pk=pk)
            services.deployment_confirm(deployment=deployment, user=user)
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(confirm, ids))


def _launch_and_wait(user, team, env, kind, slug, lb=""):
    """Warm-up, untimed, in this process: the embedded network, roles and clients."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False):
        _wait([_submit(user, team, env, kind, slug, lb)], timeout=120)


def _unfinished(ids):
    from deployments.models import Deployment

    return Deployment.objects.filter(pk__in=ids).exclude(status__in=Deployment.FINISHED)


def _wait(ids, timeout=900, every=None):
    from deployments import tasks

    deadline = time.monotonic() + timeout
    last_reconcile = time.monotonic()
    while _unfinished(ids).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("deployments did not finish")
        if every and time.monotonic() - last_reconcile >= every:
            tasks.reconcile_deployments()
            last_reconcile = time.monotonic()
        time.sleep(0.1)


def _worker_calls() -> Counter:
    from portal import ratelimit

    client, _ = ratelimit._redis()
    prefix = os.environ["CACHE_KEY_PREFIX"]
    total: Counter = Counter()
    for key in client.scan_iter(f"{prefix}:bench-calls:*"):
        for op, n in client.hgetall(key).items():
            total[op.decode()] += int(n)
    return total


def bucket_levels(env) -> dict[str, float]:
    """Tokens in each of the environment's AWS buckets now (a bucket never used is full)."""
    from django.conf import settings

    from portal import ratelimit

    client, _ = ratelimit._redis()
    seconds, micros = client.time()
    now = seconds + micros / 1_000_000
    region = env.region or settings.AWS_DEFAULT_REGION
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "slipway")
    levels = {}
    for group, (rate, burst) in settings.AWS_RATE_LIMITS.items():
        key = f"{prefix}:aws-bucket:{env.aws_account_id}:{region}:{group}"
        tokens, stamp = client.hmget(key, "tokens", "stamp")
        if tokens is None:
            levels[group] = float(burst)
        else:
            levels[group] = min(burst, float(tokens) + (now - float(stamp)) * rate)
    return levels


def _until_full(env) -> None:
    """Wait until every bucket is full again (what the plans and warm-ups spent refilled)."""
    from django.conf import settings

    limits = settings.AWS_RATE_LIMITS
    levels = bucket_levels(env)
    time.sleep(max((limits[g][1] - level) / limits[g][0] for g, level in levels.items()))


def floor_seconds(calls: Counter, levels: dict[str, float]) -> tuple[float, str, Counter]:
    """The least time AWS's buckets allow for these calls: per bucket (tokens taken − tokens
    it held at the clicks) / rate, the largest of them."""
    from django.conf import settings

    from portal.ratelimit import throttle_groups

    tokens: Counter = Counter()
    for op, n in calls.items():
        service, operation = op.split(".", 1)
        for group in throttle_groups(service, operation):
            tokens[group] += n
    best, name = 0.0, "(none)"
    for group, taken in tokens.items():
        rate, _ = settings.AWS_RATE_LIMITS[group]
        seconds = max(0.0, (taken - levels[group]) / rate)
        if seconds > best:
            best, name = seconds, group
    return best, name, tokens


def _outcomes(ids):
    from deployments.models import Deployment, DeploymentStep

    rows = Deployment.objects.filter(pk__in=ids)
    statuses = Counter(rows.values_list("status", flat=True))
    errors = list(rows.exclude(error="").values_list("error", flat=True))
    throttled_users = sum(1 for e in errors if any(t in e for t in THROTTLING))
    throttled_notes = DeploymentStep.objects.filter(
        deployment_id__in=ids, name__startswith="Temporary AWS error"
    ).count()
    reasons = Counter(e.split(".")[0][:90] for e in errors)
    return statuses, throttled_users, throttled_notes, reasons


def duplicates() -> dict:
    """Resources AWS holds twice for one deploy: versions, task definitions, rules, services."""
    from django.conf import settings

    from catalog.models import Environment
    from portal.aws import aws_client

    settings.AWS_RATE_LIMITS_ENABLED = False  # this process's own check is not measured
    env = Environment.objects.get(slug="dev")
    lam = aws_client("lambda")
    functions = [f for p in lam.get_paginator("list_functions").paginate() for f in p["Functions"]]
    extra_versions = 0
    for fn in functions:
        versions = lam.list_versions_by_function(FunctionName=fn["FunctionName"])["Versions"]
        extra_versions += max(0, len([v for v in versions if v["Version"] != "$LATEST"]) - 1)
    ecs = aws_client("ecs")
    arns = [
        a
        for p in ecs.get_paginator("list_task_definitions").paginate()
        for a in p["taskDefinitionArns"]
    ]
    families = Counter(a.rsplit("/", 1)[1].rsplit(":", 1)[0] for a in arns)
    rules = []
    if env.alb_listener_arn:
        pages = aws_client("elbv2").get_paginator("describe_rules")
        rules = [r for p in pages.paginate(ListenerArn=env.alb_listener_arn) for r in p["Rules"]]
    targets = Counter(
        a["TargetGroupArn"] for r in rules for a in r["Actions"] if a.get("TargetGroupArn")
    )
    settings.AWS_RATE_LIMITS_ENABLED = True
    return {
        "lambda versions published twice": extra_versions,
        "task definitions registered twice": sum(n - 1 for n in families.values()),
        "listener rules made twice": sum(n - 1 for n in targets.values()),
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def drain(user, team, env):
    from django.conf import settings

    from deployments.models import Deployment
    from portal.aws import call_counts

    plan = [("ecs", f"svc-{i}", f"/s{i}/*") for i in range(ECS_COUNT)]
    plan += [("lambda", f"fn-{i}", "") for i in range(LAMBDA_COUNT)]
    before = _worker_calls()
    local_before = call_counts()
    # Every plan first (what each user reads before clicking), then all the clicks at once.
    started = time.monotonic()
    ids = [_submit(user, team, env, kind, slug, lb, confirm=False) for kind, slug, lb in plan]
    planned = time.monotonic() - started
    _until_full(env)  # the plans' reads spent tokens too
    load_before = _load()
    levels = bucket_levels(env)
    clicked = time.time()
    started = time.monotonic()
    _confirm_all(user, ids)
    submitted = time.monotonic() - started
    _wait(ids, every=RECONCILE_EVERY)
    seconds = time.monotonic() - started
    time.sleep(1)  # the workers' last counts
    # The plans read AWS in this process (as the web would) before the clock started and the
    # buckets refilled after them: the floor counts the calls made after the clicks.
    local = Counter({f"{s}.{o}": n for (s, o), n in (call_counts() - local_before).items()})
    calls = _worker_calls() - before
    floor, bottleneck, tokens = floor_seconds(calls, levels)
    statuses, throttled_users, throttled_notes, reasons = _outcomes(ids)
    attempts = Counter(Deployment.objects.filter(pk__in=ids).values_list("attempts", flat=True))
    print(
        f"== Phase 1: {len(ids)} deploys at once ({ECS_COUNT} ECS, {LAMBDA_COUNT} Lambda), "
        f"{WORKERS} workers × {settings.CELERY_WORKER_CONCURRENCY} threads"
    )
    print(f"planned one by one in {planned:.1f} s (untimed); all confirmed in {submitted:.1f} s")
    print(f"statuses: {dict(statuses)}; attempts: {dict(sorted(attempts.items()))}")
    for reason, n in reasons.items():
        print(f"  {n} × {reason}")
    print(
        f"AWS calls by the workers: {sum(calls.values())} (and {sum(local.values())} by the "
        f"plans, before the clock); tokens per bucket: {dict(tokens)}"
    )
    print(
        f"drain {seconds:.1f} s; floor {floor:.1f} s ({bottleneck}); "
        f"ratio {seconds / floor if floor else float('inf'):.2f} (goal ≤ 1.2)"
    )
    print(
        f"throttling errors reaching users: {throttled_users}; "
        f"throttling retries noted in logs: {throttled_notes}"
    )
    from bench._load_profile import profile

    threads = WORKERS * settings.CELERY_WORKER_CONCURRENCY
    profile(
        dict(zip(ids, (kind for kind, _, _ in plan), strict=True)),
        clicked,
        clicked + seconds,
        bottleneck,
        threads,
    )
    print(f"duplicates: {duplicates()}")
    print(f"load average before: {load_before}; after: {_load()} ({os.cpu_count()} CPUs)")


def kill_and_resume(user, team, env, workers):
    from deployments.models import Deployment, DeploymentStep

    ids = [_submit(user, team, env, "lambda", f"k-{i}", confirm=False) for i in range(KILL_COUNT)]
    time.sleep(2)
    _confirm_all(user, ids)
    victim = workers[0]
    running = Deployment.objects.filter(pk__in=ids, status=Deployment.Status.RUNNING)
    held: dict[int, int] = {}
    while not held and _unfinished(ids).exists():  # a third done and some running on the victim
        done = Deployment.objects.filter(pk__in=ids, status__in=Deployment.FINISHED).count()
        if done >= KILL_COUNT // 3:
            held = dict(
                running.filter(worker__endswith=f":{victim.pid}").values_list("pk", "attempts")
            )
        time.sleep(0.02)
    mid_step = set(  # killed inside a step (the rest between two steps: nothing to mark)
        DeploymentStep.objects.filter(deployment_id__in=held, status="running").values_list(
            "deployment_id", flat=True
        )
    )
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at = time.monotonic()
    resumed: dict[int, float] = {}
    from deployments import tasks

    last_reconcile = 0.0
    while _unfinished(ids).exists() or len(resumed) < len(held):
        now = time.monotonic()
        if now - killed_at > 300:
            break
        if now - last_reconcile >= RECONCILE_EVERY:
            tasks.reconcile_deployments()
            last_reconcile = now
        for pk, attempts, status in Deployment.objects.filter(pk__in=held).values_list(
            "pk", "attempts", "status"
        ):
            again = attempts > held[pk] and status != Deployment.Status.QUEUED
            if pk not in resumed and (again or status in Deployment.FINISHED):
                resumed[pk] = now - killed_at
        time.sleep(0.1)
    statuses, throttled_users, _, reasons = _outcomes(ids)
    lost = KILL_COUNT - statuses.get(Deployment.Status.SUCCEEDED, 0)
    times = sorted(resumed.values())
    print(
        f"== Phase 2: {KILL_COUNT} Lambda deploys, worker pid {victim.pid} SIGKILLed with "
        f"{len(held)} of them running"
    )
    if times:
        print(
            f"time to resume: median {statistics.median(times):.1f} s, "
            f"max {times[-1]:.1f} s (goal < 30 s); not resumed: {len(held) - len(times)}"
        )
    print(
        f"statuses: {dict(statuses)}; lost: {lost}; throttling errors reaching users: "
        f"{throttled_users}"
    )
    for reason, n in reasons.items():
        print(f"  {n} × {reason}")
    interrupted = DeploymentStep.objects.filter(deployment_id__in=mid_step, status="interrupted")
    print(
        f"killed inside a step: {len(mid_step)} of {len(held)}; their step marked interrupted: "
        f"{interrupted.values('deployment_id').distinct().count()}; steps still 'running': "
        f"{DeploymentStep.objects.filter(deployment_id__in=ids, status='running').count()}"
    )
    print(f"duplicates: {duplicates()}")
    print(f"load average: {_load()}")


if __name__ == "__main__":
    main()
