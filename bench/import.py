"""Benchmark `manage.py import_backstage DIR` on a generated Backstage catalog.

    .venv/bin/python bench/import.py [--components 20000] [--groups 400] [--systems 800] [--keep]

Generates a directory like the one Backstage's own catalog backend is timed on (400 Groups,
800 Systems, 20,000 Components with owners, systems, tags, links, annotations and dependsOn
between components) into var/bench-import/, one file per entity, named so that a plain name
order reads components before the groups and systems that own them. Then, on a PostgreSQL
database of its own (slipway_bench, recreated), it runs the command once as a user would (a
subprocess, Django start-up included), checks what landed, runs it again (everything
unchanged), and prints both times (wall clock, and the CPU time of the command's own process,
which a busy machine stretches less), the ratio to the 30 s goal and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _setup  # noqa: F401 — sets the environment before Django loads

GOAL_SECONDS = 30.0
OUT = _setup.ROOT / "var" / "bench-import"
WORDS = (  # noqa: SIM905 — a word list reads better as prose
    "payments ledger search index billing invoice checkout cart orders inventory shipping "
    "tracking email notify sms push auth login session token profile account users avatar "
    "images video audio upload storage archive backup export report analytics metrics events "
    "stream queue scheduler batch worker gateway proxy router cache config flags pricing tax"
).split()
TYPES = ["service"] * 6 + ["website", "library", "function"]
LIFECYCLES = ["production"] * 5 + ["experimental"] * 3 + ["deprecated"]


def _doc(kind: str, metadata: str, spec: str) -> str:
    return f"apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n{metadata}spec:\n{spec}"


def generate(out: Path, *, components: int, groups: int, systems: int, seed: int = 7) -> int:
    """Write the catalog; return the number of files."""
    rng = random.Random(seed)
    shutil.rmtree(out, ignore_errors=True)
    for folder in ("components", "groups", "systems"):
        (out / folder).mkdir(parents=True)
    for g in range(groups):
        name = f"team-{g:04d}"
        meta = f"  name: {name}\n  description: Team number {g}.\n"
        parent = f"  parent: group:team-{g // 10:04d}\n" if g >= 10 else ""
        spec = f"  type: team\n  profile:\n    displayName: Team {g}\n{parent}  children: []\n"
        (out / "groups" / f"{name}.yaml").write_text(_doc("Group", meta, spec))
    for s in range(systems):
        name = f"system-{s:04d}"
        meta = f"  name: {name}\n  description: System {s} of the benchmark catalog.\n"
        spec = f"  owner: group:team-{s % groups:04d}\n  domain: domain-{s % 40}\n"
        (out / "systems" / f"{name}.yaml").write_text(_doc("System", meta, spec))
    for c in range(components):
        name = f"component-{c:05d}"
        words = rng.sample(WORDS, 3)
        depends = "".join(
            f"    - component:component-{rng.randrange(components):05d}\n" for _ in range(2)
        )
        meta = (
            f"  name: {name}\n  title: {words[0].title()} {words[1]} {c}\n"
            f"  description: {' '.join(words)} for the benchmark.\n"
            f"  tags: [{words[0]}, {words[2]}]\n"
            "  annotations:\n"
            f"    backstage.io/source-location: url:https://git.example.com/{name}\n"
            f"    github.com/project-slug: example/{name}\n"
            "  links:\n"
            f"    - url: https://docs.example.com/{name}\n      title: Docs\n      type: docs\n"
        )
        spec = (
            f"  type: {rng.choice(TYPES)}\n  lifecycle: {rng.choice(LIFECYCLES)}\n"
            f"  owner: group:team-{c % groups:04d}\n  system: system-{c % systems:04d}\n"
            f"  dependsOn:\n{depends}"
        )
        (out / "components" / f"{name}.yaml").write_text(_doc("Component", meta, spec))
    return groups + systems + components


def run_command(path: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the command's process, its summary line)."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_backstage", str(path), "-v", "0"],
        cwd=_setup.ROOT,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"import_backstage failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, cpu, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=400)
    parser.add_argument("--systems", type=int, default=800)
    parser.add_argument("--keep", action="store_true", help="keep the generated directory")
    args = parser.parse_args()

    started = time.perf_counter()
    files = generate(OUT, components=args.components, groups=args.groups, systems=args.systems)
    print(f"generated {files:,} files in {OUT} ({time.perf_counter() - started:.1f} s)")
    _setup.setup_django()
    from django.db import connections

    from catalog.models import Service, Team
    from interop.models import EntityRecord

    connections.close_all()
    first, cpu, summary = run_command(OUT)
    print(f"first import:  {first:6.1f} s  (CPU {cpu:.1f} s)  {summary}")
    services, teams = Service.objects.count(), Team.objects.count()
    records = EntityRecord.objects.count()
    with_deps = Service.depends_on.through.objects.values("from_service").distinct().count()
    print(
        f"  in the catalog: {services:,} services, {teams:,} teams, {records:,} records, "
        f"{with_deps:,} services with dependencies"
    )
    if services != args.components or teams != args.groups:
        sys.exit("the catalog does not hold what was generated")
    connections.close_all()
    again, cpu, summary = run_command(OUT)
    print(f"re-import:     {again:6.1f} s  (CPU {cpu:.1f} s)  {summary}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(
        f"import of {args.components:,} components in one command: {first:.1f} s, "
        f"{first / GOAL_SECONDS:.2f}× the {GOAL_SECONDS:.0f} s goal "
        f"({'met' if first < GOAL_SECONDS else 'NOT met'}); load average {load}"
    )
    if not args.keep:
        shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main()
