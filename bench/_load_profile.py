"""Where bench/load.py's drain spent its time, from the events its workers publish.

bench/_worker.py records each task run, each rate-limit token taken (and the wait for it) and
each hold of the listener-rule lock, per deployment; this prints, for the drain: how busy the
worker threads were, each kind's time queued / waiting for tokens / waiting for or holding
the lock / between tasks, each kind's steps, and per bucket how long it was empty (callers
waiting: working at its documented rate) and when it gave its first and last token.
"""

import os
import statistics
from collections import Counter


def _worker_events() -> list[list[str]]:
    from portal import ratelimit

    client, _ = ratelimit._redis()
    prefix = os.environ["CACHE_KEY_PREFIX"]
    return [
        line.decode().split()
        for key in client.scan_iter(f"{prefix}:bench-events:*")
        for line in client.lrange(key, 0, -1)
    ]


def _union(intervals) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _steps(kinds: dict[int, str], t0: float) -> None:
    """Each kind's steps in order: mean start after the clicks and mean duration."""
    from deployments.models import DeploymentStep

    for kind in sorted(set(kinds.values())):
        ids = [pk for pk, k in kinds.items() if k == kind]
        rows = DeploymentStep.objects.filter(deployment_id__in=ids, finished_at__isnull=False)
        by_name: dict[str, list[tuple[float, float]]] = {}
        for name, started, finished in rows.values_list("name", "started_at", "finished_at"):
            start = started.timestamp() - t0
            by_name.setdefault(" ".join(name.split()[:3]), []).append(
                (start, (finished - started).total_seconds())
            )
        shown = sorted(by_name.items(), key=lambda item: statistics.mean(s for s, _ in item[1]))
        print(f"  {kind} steps (mean start after the clicks / mean duration, seconds):")
        means = (
            (name, statistics.mean(s for s, _ in v), statistics.mean(d for _, d in v))
            for name, v in shown
        )
        print("    " + "; ".join(f"{name} {s:.1f}/{d:.2f}" for name, s, d in means))


def profile(kinds: dict[int, str], t0: float, t1: float, bottleneck: str, threads: int) -> None:
    """Where the drain's time went, from the workers' events (bench/_worker.py)."""
    events = [e for e in _worker_events() if int(e[1]) in kinds]
    tasks = [(float(e[2]), float(e[3])) for e in events if e[0] == "task"]
    span = t1 - t0
    busy = sum(min(b, t1) - max(a, t0) for a, b in tasks if b > t0 and a < t1)
    steps = [t0 + i * 0.1 for i in range(int(span * 10))]
    running = [sum(1 for a, b in tasks if a <= s < b) for s in steps]
    full = sum(1 for n in running if n >= threads) / max(1, len(running))
    print(
        f"worker threads ({threads}): busy {busy / span:.1f} on average, {max(running, default=0)}"
        f" at most, all busy {full:.0%} of the drain"
    )
    per: dict[int, Counter] = {pk: Counter(first=float("inf")) for pk in kinds}
    for e in events:
        pk = int(e[1])
        if e[0] == "task":
            a, b = float(e[2]), float(e[3])
            per[pk]["running"] += b - a
            per[pk]["first"] = min(per[pk]["first"], a)
            per[pk]["last"] = max(per[pk]["last"], b)
        elif e[0] == "bucket":
            per[pk]["bucket wait"] += float(e[4])
        elif e[0] == "park":
            per[pk]["parked"] += float(e[4])
            per[pk]["parks"] += 1
        elif e[0] == "lock":
            asked, got, released = map(float, e[2:5])
            per[pk]["lock wait"] += got - asked
            per[pk]["lock held"] += released - got
    for kind in sorted(set(kinds.values())):
        rows = [per[pk] for pk, k in kinds.items() if k == kind and per[pk]["last"]]
        if not rows:
            continue
        mean = {
            "queued (click → first task)": statistics.mean(r["first"] - t0 for r in rows),
            "in tasks": statistics.mean(r["running"] for r in rows),
            "  of which waiting for tokens": statistics.mean(r["bucket wait"] for r in rows),
            "  of which waiting for the listener lock": statistics.mean(
                r["lock wait"] for r in rows
            ),
            "  of which holding it": statistics.mean(r["lock held"] for r in rows),
            "between tasks (parked for tokens, stability polls)": statistics.mean(
                r["last"] - r["first"] - r["running"] for r in rows
            ),
            "  of which parked for tokens (no thread held)": statistics.mean(
                r["parked"] for r in rows
            ),
            "  parks per deploy": statistics.mean(r["parks"] for r in rows),
            "click → last task end": statistics.mean(r["last"] - t0 for r in rows),
        }
        print(f"  {kind} ({len(rows)} deploys), mean seconds per deploy:")
        for name, value in mean.items():
            print(f"    {name}: {value:.1f}")
    _steps(kinds, t0)
    locks = [tuple(map(float, e[2:5])) for e in events if e[0] == "lock"]
    if locks:
        held = _union((g, r) for _, g, r in locks)
        print(
            f"listener lock: {len(locks)} holds, held {held:.1f} s of the drain "
            f"(median hold {statistics.median(r - g for _, g, r in locks) * 1000:.0f} ms)"
        )
    buckets: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        if e[0] == "bucket":
            buckets.setdefault(e[2], []).append((float(e[3]), float(e[4])))
    for group, takes in sorted(buckets.items()):
        saturated = _union((a, a + w) for a, w in takes if w > 0)
        grants = sorted(a + w for a, w in takes)
        print(
            f"bucket {group}: {len(takes)} tokens, callers waited {sum(w for _, w in takes):.1f}"
            f" s in all; empty (someone waiting) {saturated:.1f} s of {span:.1f} s; "
            f"tokens given {grants[0] - t0:.1f}–{grants[-1] - t0:.1f} s after the clicks"
        )
    grants = sorted(a + w for a, w in buckets.get(bottleneck, []))
    if grants:
        per_5s = Counter(int((g - t0) // 5) for g in grants)
        timeline = " ".join(str(per_5s.get(i, 0)) for i in range(int(span // 5) + 1))
        print(f"  {bottleneck} tokens given per 5 s: {timeline}")
