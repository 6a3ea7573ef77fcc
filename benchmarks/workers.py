"""Wall time of a suite from a cold start with 1 and with N workers (the pool's speed-up).

    python benchmarks/workers.py quickstart                    # --workers 1, then 2
    python benchmarks/workers.py drfusion-ivf --limit 1 --workers 1 2
    python benchmarks/workers.py drfusion-pet-mri --workers 2  # one timing

Each timing is one `benchbed run SUITE --workers N` in a subprocess on a fresh store and a fresh
artifact cache (nothing reused, the whole suite computed), with BENCHBED_DATA/BENCHBED_WEIGHTS as
set (default ../shared next to the checkout). Printed per run: wall seconds, CPU seconds of the
run and its workers (user + system, from ``resource.getrusage(RUSAGE_CHILDREN)``), items and
items per second; then the speed-up of each N against the first. Run it on a quiet machine:
other jobs on the same cores change the wall times, not the CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for var, folder in (("BENCHBED_DATA", "datasets"), ("BENCHBED_WEIGHTS", "weights")):
        default = REPO.parent / "shared" / folder
        if not env.get(var) and default.is_dir():
            env[var] = str(default)
    return env


def _benchbed() -> list[str]:
    exe = Path(sys.executable).with_name("benchbed")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "benchbed.cli"]


def time_run(suite: str, workers: int, limit: int | None) -> dict[str, float]:
    """One cold run of ``suite``: wall, CPU seconds, items."""
    scratch = Path(tempfile.mkdtemp(prefix="benchbed-workers-"))
    env = _env()
    env.update(BENCHBED_DB=f"sqlite:///{scratch / 'store.db'}", BENCHBED_CACHE=str(scratch / "cache"))
    cmd = [*_benchbed(), "run", suite, "--workers", str(workers), "--no-progress", "--no-show"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(scratch, ignore_errors=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    m = re.search(r"items: (\d+) planned, (\d+) computed", out.stdout)
    items = int(m.group(2)) if m else 0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "items": items}


def main() -> None:
    """Time the suite with each worker count and print the speed-ups."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=None, help="pairs per dataset (a smoke timing)")
    args = parser.parse_args()
    rows = []
    for n in args.workers:
        r = time_run(args.suite, n, args.limit)
        rows.append((n, r))
        print(f"{args.suite}{'' if args.limit is None else f' --limit {args.limit}'} --workers {n}: "
              f"wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, {r['items']} items, "
              f"{r['items'] / r['wall']:.2f} items/s", flush=True)
    base = rows[0][1]["wall"]
    for n, r in rows[1:]:
        print(f"  --workers {n} vs {rows[0][0]}: {base / r['wall']:.2f}x")


if __name__ == "__main__":
    main()
