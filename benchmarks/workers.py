"""Wall time of a suite from a cold start with 1 and with N workers (the pool's speed-up).

    python benchmarks/workers.py quickstart                    # --workers 1, then 2
    python benchmarks/workers.py drfusion-ivf --limit 1 --workers 1 2
    python benchmarks/workers.py drfusion-pet-mri --workers 2  # one timing
    python benchmarks/workers.py drfusion-ivf --workers 2 --checkout ../before  # another version

``--checkout DIR`` runs another checkout's code (e.g. a ``git worktree`` of an older commit, to
time "before" and "after" on the same machine in one session): its ``benchbed`` package and
``plugins/`` go first on PYTHONPATH and the suite is its ``suites/SUITE.yaml``. The interpreter,
packages and entry points are this environment's.

Each timing is one `benchbed run SUITE --workers N` in a subprocess on a fresh store and a fresh
artifact cache (nothing reused, the whole suite computed), with BENCHBED_DATA/BENCHBED_WEIGHTS as
set (default ../shared next to the checkout). Printed per run: wall seconds, CPU seconds of the
run and its workers (user + system, from ``resource.getrusage(RUSAGE_CHILDREN)``), items and
items per second; then the speed-up of each N against the first. Run it on a quiet machine:
other jobs on the same cores change the wall times, not the CPU seconds.

Then where the time went, from the seconds stored with each item (any schema version): per
stage, summed over the run's items. An item's seconds are its restorations (computed by the first
item of its group that needs them, reused by the rest), its fusion, its metrics and its writes,
plus its group's load-and-degrade time, so the stages are estimated per group as differences:
``metrics + writes`` = the plain ``average`` item (no restoration, a trivial fusion), a fuser's
time = its ``auto>`` item minus that, a restorer's = its first cascade item minus the fuser's and
the metrics' time (see ``breakdown``). ``--keep DIR`` keeps each run's store and cache in DIR/wN.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

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


def time_run(suite: str, workers: int, limit: int | None, checkout: Path | None = None,
             keep: Path | None = None) -> dict[str, Any]:
    """One cold run of ``suite``: wall, CPU seconds, items, stage breakdown."""
    if keep is not None:
        scratch = keep / f"w{workers}"
        if scratch.exists():
            sys.exit(f"{scratch} exists: a cold run needs a fresh store and cache (remove it)")
        scratch.mkdir(parents=True)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="benchbed-workers-"))
    env = _env()
    env.update(BENCHBED_DB=f"sqlite:///{scratch / 'store.db'}", BENCHBED_CACHE=str(scratch / "cache"))
    target = suite
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), str(checkout / "plugins"),
                                             env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        target = str(checkout / "suites" / f"{suite}.yaml")
    cmd = [*_benchbed(), "run", target, "--workers", str(workers), "--no-progress", "--no-show"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stages = breakdown(scratch / "store.db") if out.returncode == 0 else {}
    if keep is None:
        shutil.rmtree(scratch, ignore_errors=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    m = re.search(r"items: (\d+) planned, (\d+) computed", out.stdout)
    items = int(m.group(2)) if m else 0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "items": items, "stages": stages}


def breakdown(store: Path) -> dict[str, float]:
    """Seconds per stage over the store's done items, estimated per group from item seconds.

    Per group (dataset, pair, degradation, severity): ``metrics + writes`` is the ``average``
    item's time (no restoration, a trivial fusion); ``fuse <F>`` is the item ``auto>F`` minus that,
    except for the group's first ``auto>`` item, which also restored (``auto>average``, whose
    fusion is trivial, is the first: ``restore auto`` = it minus ``metrics + writes``);
    ``restore zoo_auto`` = its first item minus the same fuser's ``auto>`` item. Methods that
    fit none of these (drfusion, recofuse, ...) are their own stage, metrics included.
    """
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    rows = con.execute("SELECT dataset, pair_id, degradation, severity, method, seconds, id "
                       "FROM items WHERE status = 'done' ORDER BY id").fetchall()
    con.close()
    groups: dict[tuple, dict[str, float]] = defaultdict(dict)
    for ds, pair, deg, sev, method, seconds, _ in rows:
        groups[(ds, pair, deg, sev)][method] = float(seconds or 0.0)
    out: dict[str, float] = defaultdict(float)
    for g in groups.values():
        base = g.get("average", 0.0)
        firsts: dict[str, str] = {}
        for method in g:  # insertion order = item order: the first cascade of a restorer restored
            if ">" in method:
                firsts.setdefault(method.split(">", 1)[0], method)
        for method, sec in g.items():
            if method == "average":
                out["metrics + writes"] += sec
                continue
            if ">" not in method:
                out[method] += sec
                continue
            restorer, fuser = method.split(">", 1)
            fuse = max(0.0, g.get(f"auto>{fuser}", sec) - base) if restorer != "auto" else \
                max(0.0, sec - base)
            if method == firsts.get(restorer):
                if restorer == "auto":  # its fusion is auto>average's: trivial
                    out["restore auto"] += max(0.0, sec - base)
                    fuse = 0.0
                else:
                    out[f"restore {restorer}"] += max(0.0, sec - base - fuse)
            out["metrics + writes"] += min(sec, base)
            out[f"fuse {fuser}"] += fuse
    return dict(out)


def main() -> None:
    """Time the suite with each worker count and print the speed-ups."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit", type=int, default=None, help="pairs per dataset (a smoke timing)")
    parser.add_argument("--checkout", type=Path, default=None,
                        help="run this checkout's benchbed and plugins (e.g. an older worktree)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each run's store and cache in KEEP/wN (must not exist)")
    args = parser.parse_args()
    rows = []
    where = f" (code of {args.checkout})" if args.checkout else ""
    for n in args.workers:
        r = time_run(args.suite, n, args.limit, args.checkout, args.keep)
        rows.append((n, r))
        print(f"{args.suite}{'' if args.limit is None else f' --limit {args.limit}'} --workers {n}"
              f"{where}: wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s, {r['items']} items, "
              f"{r['items'] / r['wall']:.2f} items/s", flush=True)
        total = sum(r["stages"].values())
        for stage, sec in sorted(r["stages"].items(), key=lambda kv: -kv[1]):
            print(f"    {stage:<28}{sec:9.1f} s  {100 * sec / total:5.1f}%")
    base = rows[0][1]["wall"]
    for n, r in rows[1:]:
        print(f"  --workers {n} vs {rows[0][0]}: {base / r['wall']:.2f}x")


if __name__ == "__main__":
    main()
