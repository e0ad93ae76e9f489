"""CPU and SQL of the worker's side of one deployment, per kind, profiled in this process.

Plans and confirms N deployments per kind (as bench/deploy_overhead.py does, through the kind's
create form and `services.service_launch`), then runs for each what the worker runs — claim,
execute, the stability checks until finished, and the deployment events' publishing task —
directly in this process against the embedded emulator (a process of its own, so its CPU is not
counted). Prints per kind the worker's CPU ms (this process's CPU time, all threads) and SQL
statements per deployment; with `--profile` also the top functions by cumulative time.
Usage: .venv/bin/python bench/worker_profile.py [N] [--profile]
"""

import cProfile
import pstats
import sys
import time

import _setup

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5
PROFILE = "--profile" in sys.argv

KINDS = {
    "lambda": lambda i: {"runtime": "python3.12"},
    "ecs": lambda i: {"image": "public.ecr.aws/nginx/nginx:1.27", "lb_value": f"/p{i}/*"},
    "apigateway": lambda i: {"routes": "GET /hello -> target"},
    "apigateway-http": lambda i: {"routes": "GET /hello -> target", "api_type": "http"},
}


def work(deployment_id: int) -> str:
    """What the worker's tasks do for one deployment (tasks.run_deployment, check_deployment,
    publish_deployment_events), inline."""
    from deployments import engine, events
    from deployments.models import Deployment

    lease = engine.deployment_claim(deployment_id=deployment_id)
    assert lease is not None
    outcome = engine.deployment_execute(deployment_id=deployment_id, lease=lease)
    while outcome.kind == engine.Outcome.WAIT:
        outcome = engine.deployment_check(deployment_id=deployment_id, lease=lease)
    events.deployment_events_publish(deployment_id=deployment_id)
    return Deployment.objects.values_list("status", flat=True).get(pk=deployment_id)


def run() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user, team, env = _setup.fixtures()

    def submit(kind_label, slug, overrides):
        kind = kind_label.partition("-")[0]
        env_fresh = type(env).objects.get(pk=env.pk)
        return _setup.submit(user, team, env_fresh, kind, slug, overrides)

    # Warm: the API's target function, an ECS service (network, cluster, role), every client.
    for label, slug in (("lambda", "target"), ("ecs", "warm-ecs")):
        work(submit(label, slug, KINDS[label](999)))
    for label in ("lambda", "apigateway", "apigateway-http"):
        work(submit(label, f"w{label[:3]}{label[-1]}", KINDS[label](998)))
    print(f"N={N} per kind; worker CPU and SQL per deployment (claim, execute, checks, events)")
    for label, overrides in KINDS.items():
        kind, _, variant = label.partition("-")
        ids = [submit(label, f"{kind[:3]}{variant[:1]}-{i}", overrides(i)) for i in range(N)]
        profiler = cProfile.Profile(time.process_time)  # CPU, not wall
        cpu = 0.0
        sql = 0
        statuses = set()
        by_table: dict[str, int] = {}
        for pk in ids:
            with CaptureQueriesContext(connection) as queries:
                began = time.process_time()
                if PROFILE:
                    profiler.enable()
                statuses.add(work(pk))
                if PROFILE:
                    profiler.disable()
                cpu += time.process_time() - began
            sql += len(queries)
            if "--trace" in sys.argv and pk == ids[0]:
                for q in queries.captured_queries:
                    print("   ", " ".join(q["sql"].split())[:150])
            for q in queries.captured_queries:
                head = " ".join(q["sql"].split()[:4])[:60]
                by_table[head] = by_table.get(head, 0) + 1
        print(
            f"{label:<16} cpu {cpu / N * 1000:7.1f} ms/deploy  sql {sql / N:5.1f}/deploy"
            f"  statuses {','.join(sorted(statuses))}"
        )
        if "--sql" in sys.argv:
            for head, n in sorted(by_table.items(), key=lambda x: -x[1]):
                print(f"    {n / N:5.1f}  {head}")
        if PROFILE:
            stats = pstats.Stats(profiler)
            stats.dump_stats(_setup.ROOT / "var" / f"worker_profile_{label}.pstats")
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
            by_package: dict[str, float] = {}
            for (path, _, _), row in stats.stats.items():  # type: ignore[attr-defined]
                by_package[_package(path)] = by_package.get(_package(path), 0.0) + row[2]
            for part, t in sorted(by_package.items(), key=lambda x: -x[1])[:14]:
                print(f"    {t / N * 1000:6.1f} ms/deploy  {part}")


def _package(path: str) -> str:
    """The installed package, the project's app or "stdlib/builtin" a profiled file is in."""
    if "site-packages/" in path:
        return path.split("site-packages/")[-1].split("/")[0]
    root = str(_setup.ROOT) + "/"
    return path.removeprefix(root).split("/")[0] if path.startswith(root) else "stdlib/builtin"


def main():
    emulator_proc, _ = _setup.start_emulator()
    try:
        _setup.setup_django()
        run()
    finally:
        emulator_proc.terminate()


if __name__ == "__main__":
    main()
