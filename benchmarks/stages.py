"""Where a run's time goes, stage by stage: network inference, Q_P per item, boards at scale.

    python benchmarks/stages.py alloc   [--repeat 1] [--trim MIB ...]  # u2fusion, dncnn
    python benchmarks/stages.py qp      [--items 4]      # Q_P per item, source cache off / on
    python benchmarks/stages.py boards  [--rows 1000000] # `leaderboard show` on a synthetic store
    python benchmarks/stages.py publish [--methods 300]  # `leaderboard publish` of many methods
    python benchmarks/stages.py harness [--items 2000]  # the runner's own cost per item
    python benchmarks/stages.py all

``alloc`` runs each network in a fresh child process (torch on one thread, as the runner's
workers), once with glibc's default allocator settings and once after
``benchbed.memory.tune_allocator()``: CPU seconds (user + system, ``resource.getrusage``),
wall seconds and minor page faults per call, the mean of ``--repeat`` calls after one warm-up
call (which loads the weights). The test image is the first MSRS pair under BENCHBED_DATA
(640x480): U2Fusion fuses its IR and visible lumas, DnCNN-S restores the visible luma with
Gaussian noise of sigma 25/255 added (seed 0).

``qp`` scores ``--items`` fused images of that pair (as the items of one pair in a run: the
same sources, different F) with Q_P, with the per-pair source cache disabled and enabled; the
metrics run on one thread unless BENCHBED_METRIC_THREADS says otherwise.

``boards`` writes a synthetic store of ``--rows`` score rows straight into a temporary SQLite
file with SQL (schema of benchbed/store/models.py: one run, its items, run_items and scores;
2 datasets x 20 conditions x 10 methods x N pairs x 10 metrics, values from a seeded RNG), then
times ``benchbed leaderboard show --suite synth`` (the ranked view, then the stats view with its
4,000 BCa bootstraps) as a subprocess, the ranked view
on a 4,000-row store (start-up, imports and opening the store: the part that does not grow
with the store), and its parts in this process: the read (``board_scores``), the ranked table
from its arrays (what the command does), and for comparison the long frame and the table from it.

On shared cores the CPU column moves much less with the other jobs' load than wall time does.
To compare with another version of a plugin package (e.g. the zoo before a change), put a copy
of it first on PYTHONPATH: the child processes import it from there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()


def _data_root() -> Path | None:
    """BENCHBED_DATA, else ../shared/datasets next to the checkout."""
    fallback = HERE.parents[2] / "shared" / "datasets"
    for cand in (os.environ.get("BENCHBED_DATA"), fallback):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def load_pair() -> tuple[np.ndarray, np.ndarray, str]:
    """The first MSRS pair as float32 lumas in [0, 1] (IR, visible)."""
    from benchbed.imaging import read_image, to_gray

    root = _data_root()
    msrs = root / "ivf" / "msrs" if root else None
    if not msrs or not (msrs / "ir").is_dir():
        sys.exit("needs the MSRS pairs: set BENCHBED_DATA to the shared datasets folder")
    name = sorted(p.name for p in (msrs / "ir").iterdir())[0]
    a, b = (np.asarray(to_gray(read_image(msrs / d / name)), np.float32) for d in ("ir", "vi"))
    return a, b, f"MSRS {name} ({a.shape[1]}x{a.shape[0]})"


class Meter:
    """CPU seconds (user + system), wall seconds and minor faults of this process."""

    def __enter__(self) -> Meter:
        self.r0, self.t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.wall = time.perf_counter() - self.t0
        self.user = r1.ru_utime - self.r0.ru_utime
        self.sys = r1.ru_stime - self.r0.ru_stime
        self.cpu = self.user + self.sys
        self.faults = r1.ru_minflt - self.r0.ru_minflt


# --- alloc: one network call per child process ---------------------------------------------------


def _alloc_child(net: str, trim: int | None, repeat: int) -> dict[str, Any]:
    """Time ``net`` in this (fresh) process; the allocator tuned first (keeping ``trim`` bytes)
    unless ``trim`` is None."""
    from benchbed.memory import tune_allocator

    applied = tune_allocator(trim) if trim is not None else {}
    import torch

    torch.set_num_threads(1)
    from benchbed import FusionInputs, Observation
    from benchbed.registry import Registry

    reg = Registry()
    a, b, _ = load_pair()
    if net == "u2fusion":
        fuser = reg.get("fuser", "u2fusion").build()
        inputs = FusionInputs((a, b), ("ir", "vi"), None, "cpu", 0)

        def call() -> np.ndarray:
            return fuser.fuse(inputs)
    else:
        restorer = reg.get("restorer", "dncnn").build()
        sigma = 25 / 255
        noisy = np.clip(b + np.random.default_rng(0).normal(0, sigma, b.shape), 0, 1)
        obs = Observation(noisy.astype(np.float32), None, b.shape, sigma, "gaussian_noise")

        def call() -> np.ndarray:
            return restorer.restore(obs, "vi")

    first = call()  # loads and verifies the weights
    runs = []
    for _ in range(repeat):
        with Meter() as m:
            out = call()
        runs.append((m.cpu, m.user, m.sys, m.wall, m.faults))
        assert np.array_equal(out, first), "the network is not deterministic"
    mean = np.mean(np.array(runs), axis=0)
    return {"net": net, "applied": applied, "cpu": mean[0], "user": mean[1],
            "sys": mean[2], "wall": mean[3], "faults": int(mean[4]),
            "checksum": float(np.asarray(first, np.float64).sum())}


def stage_alloc(repeat: int, trims: list[int]) -> None:
    from benchbed.memory import TRIM_THRESHOLD

    source = load_pair()[2]
    print(f"alloc: {source}; torch 1 thread; mean of {repeat} calls after a warm-up, "
          "fresh process each")
    print(f"  {'network':<16}{'allocator':<18}{'CPU s':>8}{'user':>8}{'sys':>8}{'wall s':>8}"
          f"{'faults':>10}")
    configs: list[tuple[str, int | None]] = [("glibc default", None)]
    configs += [(f"tuned, trim {t >> 20} MiB", t) for t in (trims or [TRIM_THRESHOLD])]
    for net, what in (("u2fusion", "u2fusion fuse"), ("dncnn", "dncnn restore")):
        sums = set()
        for label, trim in configs:
            code = (f"import json, sys; sys.path.insert(0, {str(HERE.parent)!r}); import stages; "
                    f"print(json.dumps(stages._alloc_child({net!r}, {trim!r}, {repeat})))")
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                 text=True, env=env).stdout
            r = json.loads(out.strip().splitlines()[-1])
            sums.add(r["checksum"])
            print(f"  {what:<16}{label:<18}{r['cpu']:8.2f}{r['user']:8.2f}{r['sys']:8.2f}"
                  f"{r['wall']:8.2f}{r['faults']:10d}")
        print(f"  {what}: same output with every allocator setting: {len(sums) == 1}")


# --- qp: Q_P per item, source cache off / on -----------------------------------------------------


def stage_qp(items: int) -> None:
    from benchbed.registry import Registry

    a, b, source = load_pair()
    metric = Registry().get("metric", "QP").build()
    from benchbed_metrics import phase
    from benchbed_metrics._common import WORKERS

    a255, b255 = np.rint(a * 255), np.rint(b * 255)
    weights = np.linspace(0.2, 0.8, items)
    fused = [np.rint(w * a255 + (1 - w) * b255) for w in weights]
    print(f"qp: {source}; {items} fused images of the pair (weighted averages); metric threads "
          f"{WORKERS}")
    metric.compute(a255, b255, fused[0])  # filter bank for this size
    results = {}
    cache = getattr(phase, "SOURCE_CACHE", None)
    for label, size in (("cache off", 0), ("cache on", 4)):
        if cache is None and size:
            print("  (this phase.py has no source cache)")
            break
        if cache is not None:
            cache.resize(size)
            cache.clear()
        with Meter() as m:
            values = [metric.compute(a255, b255, f) for f in fused]
        results[label] = values
        print(f"  {label:<10} per item: CPU {m.cpu / items:6.2f} s, wall {m.wall / items:6.2f} s"
              f" ({items} items: CPU {m.cpu:.2f} s, wall {m.wall:.2f} s)")
    if len(results) == 2:
        print(f"  same values: {results['cache off'] == results['cache on']}")
    if cache is not None:
        cache.resize(4)


# --- boards: a synthetic store of N score rows ----------------------------------------------------

SYNTH_SUITE = """\
name: synth
seed: 1
datasets: [{name: msrs, split: test}, {name: tno, split: test}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [1, 2, 3, 4, 5]}
  - {name: gaussian_blur, severities: [1, 2, 3, 4]}
  - {name: lowres, severities: [1, 2, 3, 4]}
  - {name: composite, severities: [1, 2, 3, 4]}
  - {name: low_light, severities: [1, 2]}
methods: [average, laplacian, maxabs, wavelet, gff, densefuse, u2fusion, ifcnn_max, ifcnn_mean,
          didfuse]
metrics: [EN, SD, SF, AG, MI, QABF, SSIM, CC, SCD, QP]
"""


def build_store(path: Path, rows: int, seed: int = 0, methods: int | None = None
                ) -> dict[str, Any]:
    """Write the synthetic store of about ``rows`` score rows; return its shape.

    ``methods``: that many methods (gff with radii 1..N) instead of the suite's ten.
    """
    from benchbed.registry import Registry
    from benchbed.store import open_store
    from benchbed.store.models import Run
    from benchbed.suites import load_plan

    suite_file = path.with_suffix(".yaml")
    text = SYNTH_SUITE
    if methods:
        listed = ", ".join(f"{{fuse: {{name: gff, params: {{r1: {r}}}}}}}" for r in range(1, methods + 1))
        text = re.sub(r"methods: \[.*?\]\n", f"methods: [{listed}]\n", text, flags=re.S)
    suite_file.write_text(text)
    plan = load_plan(suite_file, Registry())
    sessions = open_store(f"sqlite:///{path}")
    now = datetime(2025, 1, 1)
    with sessions.begin() as s:
        run = Run(suite=plan.name, plan_hash=plan.hash, plan=plan.as_dict(), benchbed_version="x",
                  git_commit=None, packages={}, device="cpu", host="synthetic", pid=None,
                  workers=1, started_at=now, finished_at=now, status="done", n_computed=0,
                  n_skipped=0, n_failed=0)
        s.add(run)
        s.flush()
        run_id = run.id
    sessions.kw["bind"].dispose()
    conds = [(d.label, s.label) for d in plan.degradations for s in d.severities]
    datasets = [d.name for d in plan.datasets]
    methods = [m.label for m in plan.methods]
    metrics = [(m.name, m.profile) for m in plan.metrics]
    per_pair = len(datasets) * len(conds) * len(methods) * len(metrics)
    pairs = max(1, round(rows / per_pair))
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous = OFF")
    item_rows, link_rows, score_rows = [], [], []
    item_id = 0
    for ds in datasets:
        for p in range(pairs):
            pair_id = f"{ds}-{p:05d}"
            for deg, sev in conds:
                for k, method in enumerate(methods):
                    item_id += 1
                    item_rows.append((item_id, plan.name, f"{item_id:064x}", run_id, ds, pair_id,
                                      None, deg, sev, method, item_id, "done", None,
                                      float(rng.uniform(0.01, 2.0)), "{}", now.isoformat(" ")))
                    link_rows.append((run_id, item_id))
                    base = rng.normal(0.5 + 0.01 * k, 0.1, len(metrics))
                    score_rows += [(item_id, m, prof, "1", float(v))
                                   for (m, prof), v in zip(metrics, base)]
    with con:
        con.executemany("INSERT INTO items (id, suite, item_key, run_id, dataset, pair_id, "
                        "pair_hash, degradation, severity, method, seed, status, error, seconds, "
                        "artifacts, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        item_rows)
        con.executemany("INSERT INTO run_items (run_id, item_id) VALUES (?, ?)", link_rows)
        con.executemany("INSERT INTO scores (item_id, metric, profile, version, value) "
                        "VALUES (?,?,?,?,?)", score_rows)
    con.close()
    return {"items": item_id, "scores": len(score_rows), "pairs per dataset": pairs,
            "conditions": len(conds) * len(datasets), "methods": len(methods),
            "metrics": len(metrics)}


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("benchbed")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from benchbed.cli import main; main()"]


def stage_boards(rows: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "synth.db"
        if not path.exists():
            t0 = time.perf_counter()
            shape = build_store(path, rows)
            print(f"boards: built {path} in {time.perf_counter() - t0:.1f} s: "
                  + ", ".join(f"{v} {k}" for k, v in shape.items()))
        url = f"sqlite:///{path}"
        # the command as a user runs it (process start-up, imports, query, view, printing), and
        # on a store of 4,000 rows: what the command costs whatever the store holds
        tiny = Path(tmp) / "tiny.db"
        build_store(tiny, 4000)
        from benchbed.leaderboard.summary import store_summary
        from benchbed.store import open_store
        from benchbed.store.models import BoardSummary

        with open_store(url).begin() as s:  # a kept store may hold one from an earlier call
            s.query(BoardSummary).delete()
        runs = [("ranked", " (reading every score)", path), ("ranked", " on 4,000 rows", tiny),
                ("stats", "", path)]
        for k, (view, label, db) in enumerate([*runs, ("ranked", " with the stored summary",
                                                        path)]):
            if k == len(runs):
                with Meter() as m:
                    store_summary(open_store(url), "synth")
                print(f"  store_summary (what a run does at its end): wall {m.wall:.2f} s")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            out = subprocess.run([*_cli(), "--db", f"sqlite:///{db}", "leaderboard", "show",
                                  "--suite", "synth", "--view", view], check=True,
                                 capture_output=True, text=True).stdout
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"  benchbed leaderboard show ({view}){label}: wall {wall:.2f} s, CPU {cpu:.2f} s,"
                  f" {len(out.splitlines())} lines")
        # its parts, in this process
        from benchbed.leaderboard import score_view
        from benchbed.leaderboard.query import board_scores, select_board
        from benchbed.leaderboard.views import ranked_table
        from benchbed.registry import Registry
        from benchbed.store import open_store

        sessions = open_store(url)
        board = select_board(sessions, "synth")
        with Meter() as m:
            scores = board_scores(sessions, "synth", board)
        print(f"  board_scores (the read): wall {m.wall:.2f} s, CPU {m.cpu:.2f} s "
              f"({len(scores)} rows)")
        hib = {m: True for m in scores.metrics}
        with Meter() as m:
            table = ranked_table(scores, hib)
        print(f"  ranked_table from the arrays: wall {m.wall:.2f} s, CPU {m.cpu:.2f} s "
              f"({len(table)} rows)")
        with Meter() as m:
            frame = scores.frame()
        print(f"  the long frame (other views; not built by the ranked view): wall {m.wall:.2f} s,"
              f" CPU {m.cpu:.2f} s ({len(frame)} rows)")
        with Meter() as m:
            ranked_table(frame, hib)
        print(f"  ranked_table from the frame: wall {m.wall:.2f} s, CPU {m.cpu:.2f} s")
        with Meter() as m:
            score_view(sessions, Registry(), "synth", board=board)
        print(f"  score_view (ranked, as the command, summary stored): wall {m.wall:.2f} s, "
              f"CPU {m.cpu:.2f} s")


def stage_publish(methods: int, rows: int) -> None:
    """`benchbed leaderboard publish` (every publisher) of a synthetic suite of ``methods`` methods."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "many.db"
        shape = build_store(path, rows, methods=methods)
        print("publish: " + ", ".join(f"{v} {k}" for k, v in shape.items()))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([*_cli(), "--db", f"sqlite:///{path}", "leaderboard", "publish", "--suite",
                        "synth", "--out", str(Path(tmp) / "site"), "--no-examples"], check=True,
                       capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        files = sum(1 for _ in (Path(tmp) / "site").rglob("*") if _.is_file())
        print(f"  benchbed leaderboard publish ({methods} methods): wall {wall:.1f} s, CPU {cpu:.1f} s, "
              f"{files} files")


# --- harness: what the runner itself costs per item ----------------------------------------------

HARNESS_SUITE = """\
name: harness
seed: 1
datasets: [{{name: demo, split: test}}]
degradations: [{{name: gaussian_noise, severities: [{levels}]}}]
methods: [average, maxabs, laplacian, wavelet, gff, {{fuse: {{name: gff, params: {{r1: 3}}}}}},
          {{fuse: {{name: laplacian, params: {{levels: 2}}}}}}]
metrics: [EN]
"""


def stage_harness(items: int) -> None:
    """One in-process run of about ``items`` cheap items (8 demo pairs x N noise levels x 7
    classical fusers, EN): the runner's time per item besides loading and degrading, fusing and
    scoring, and where it goes. The functions named below are wrapped with a timer (about a
    microsecond per call), not profiled, so the figures are those of a plain run."""
    from benchbed_datasets.demo import IDS

    from benchbed import leases, work, writer
    from benchbed.api import run

    timed: dict[str, float] = defaultdict(float)
    first: dict[str, float] = {}

    def wrap(owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def timer(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            first.setdefault("t", t0)
            try:
                return fn(*args, **kwargs)
            finally:
                timed[label] += time.perf_counter() - t0

        setattr(owner, name, timer)

    work_parts = [(work, "_prepare_group", "load + degrade (PNG write included)"),
                  (work, "fuse_with_policy", "fuse (the fuser)"),
                  (work, "_score", "score (the metric)")]
    harness_parts = [(writer.ResultWriter, "flush", "store writes (ResultWriter.flush)"),
                     (work, "write_image", "PNG writes (degraded ones also above)"),
                     (leases.Leases, "claim", "lease claims"),
                     (work, "build_plugin", "plugin look-ups (work.build_plugin)")]
    levels = max(1, round(items / (7 * len(IDS))))
    sev = ", ".join(f"{{sigma: {0.01 + 0.1 * k / levels:.6f}}}" for k in range(levels))
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "harness.yaml"
        suite.write_text(HARNESS_SUITE.format(levels=sev))
        for owner, name, label in work_parts + harness_parts:
            wrap(owner, name, label)
        with Meter() as m:
            summary = run(suite, db=f"sqlite:///{tmp}/store.db", cache=f"{tmp}/cache")
    n = summary.computed
    startup = first["t"] - m.t0  # store opened, plan made, items checked: before any item
    print(f"harness: {n} items ({len(IDS)} demo pairs x {levels} noise levels x 7 fusers, EN), "
          f"in-process: wall {m.wall:.2f} s, CPU {m.cpu:.2f} s; {startup:.2f} s before the "
          f"first item (start-up, plan, store), then {1000 * (m.wall - startup) / n:.2f} ms/item")
    work_s = 0.0
    for _, _, label in work_parts:
        work_s += timed[label]
        print(f"    {label:<40}{1000 * timed[label] / n:8.2f} ms/item")
    rest = m.wall - startup - work_s
    print(f"  the harness (the run minus those): {1000 * rest / n:.2f} ms/item, of which")
    for _, _, label in harness_parts:
        print(f"    {label:<40}{1000 * timed[label] / n:8.2f} ms/item")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["alloc", "qp", "boards", "publish", "harness", "all"])
    parser.add_argument("--methods", type=int, default=300, help="publish: methods of the suite")
    parser.add_argument("--repeat", type=int, default=1, help="alloc: timed calls per network")
    parser.add_argument("--trim", type=int, action="append", default=[], metavar="MIB",
                        help="alloc: trim threshold(s) to try, MiB (default: benchbed.memory's)")
    parser.add_argument("--items", type=int, default=None,
                        help="qp: fused images of the pair (default 4); harness: items (2000)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="boards: score rows")
    parser.add_argument("--keep", type=Path, default=None,
                        help="boards: store file to build (or reuse when it exists)")
    args = parser.parse_args()
    os.environ.setdefault("BENCHBED_METRIC_THREADS", "1")
    if args.stage in ("alloc", "all"):
        stage_alloc(args.repeat, [t << 20 for t in args.trim])
    if args.stage in ("qp", "all"):
        stage_qp(args.items or 4)
    if args.stage in ("boards", "all"):
        stage_boards(args.rows, args.keep)
    if args.stage in ("publish", "all"):
        stage_publish(args.methods, min(args.rows, 24_000 * args.methods))
    if args.stage in ("harness", "all"):
        stage_harness(args.items or 2000)


if __name__ == "__main__":
    main()
