"""Process figures the benches read from /proc."""

import os
from pathlib import Path


def children_cpu_seconds(parent: int) -> float:
    """CPU time (user + system) used so far by the children of `parent` (gunicorn's workers
    under its master): what requests cost the server, which a busy machine delays but does
    not inflate (wall times it does)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / ticks
