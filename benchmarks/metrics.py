"""Time the full metric panel on one 640x480 triple: per-metric and total seconds.

Uses an MSRS pair from the shared data when present (BENCHBED_DATA or ../shared/datasets),
else a generated pair; the fused image is the rounded average. Each metric is built once and
timed as the best of ``--repeat`` runs after a warm-up (filter banks are cached per size):
wall seconds, and the process CPU seconds of the same runs (all threads), which move much
less than wall time when other jobs share the cores.

    taskset -c 0,1 python benchmarks/metrics.py [--repeat 5] [--profile P] [--markdown] [NAME ...]
    BENCHBED_METRIC_THREADS=1 taskset -c 0 python benchmarks/metrics.py   # one-core count

``--markdown`` prints the docs metric table instead (name, definition source, profiles with the
default first, range, direction, measured cost), generated from the registry.

The metrics run their row blocks and transforms on as many threads as the process's CPU
affinity allows (BENCHBED_METRIC_THREADS overrides), so ``taskset -c 0,1`` gives the 2-core
figure on a bigger machine. On shared cores compare before/after runs made back to back
(several rounds, best of each); the CPU column and the one-core count move much less with the
other jobs' load than the wall column does.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

SIZE = (480, 640)


def _data_root() -> Path | None:
    """BENCHBED_DATA, else ../shared/datasets next to the checkout."""
    fallback = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    for cand in (os.environ.get("BENCHBED_DATA"), fallback):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def load_triple() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """A 640x480 (A, B, F) triple on 0..255: MSRS if available, else generated."""
    from benchbed.imaging import read_image, resize, to_gray_255

    root = _data_root()
    msrs = root / "ivf" / "msrs" if root else None
    if msrs and (msrs / "ir").is_dir():
        name = sorted(p.name for p in (msrs / "ir").iterdir())[0]
        a, b = (read_image(msrs / d / name) for d in ("ir", "vi"))
        a, b = (im if im.shape[:2] == SIZE else resize(im, SIZE) for im in (a, b))
        ga, gb = to_gray_255(a), to_gray_255(b)
        source = f"MSRS {name}"
    else:
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
        ga = np.rint(np.clip(40 + 150 * np.exp(-((yy - 240) ** 2 + (xx - 200) ** 2) / 5000.0)
                             + 5 * rng.standard_normal(SIZE), 0, 255))
        gb = np.rint(np.clip(60 + 100 * ((xx // 16 + yy // 16) % 2) + 5 * rng.standard_normal(SIZE), 0, 255))
        source = "generated"
    gf = np.rint((ga + gb) / 2.0)
    return ga, gb, gf, source


def main() -> None:
    """Print one line per metric and the total."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", default=None, help="convention profile (default: each metric's)")
    parser.add_argument("--markdown", action="store_true", help="print the docs metric table")
    parser.add_argument("names", nargs="*", help="metrics to time (default: all)")
    args = parser.parse_args()
    from benchbed.registry import Registry

    a, b, f, source = load_triple()
    reg = Registry()
    from benchbed_metrics._common import WORKERS

    print(f"triple: {source}, {a.shape[1]}x{a.shape[0]}, F = rounded average; metric threads: {WORKERS}")
    total = total_cpu = 0.0
    rows = []
    if not args.markdown:
        print(f"{'metric':<6} {'profile':<10} {'value':>12} {'wall':>9}   {'cpu':>9}")
    for name in args.names or reg.names("metric"):
        spec = reg.get("metric", name)
        profile = args.profile if args.profile in spec.profiles else spec.profile
        metric = spec.factory(**spec.profile_params(profile))
        value = metric.compute(a, b, f)  # warm-up: caches, first-call imports
        best = best_cpu = float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            metric.compute(a, b, f)
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
        total += best
        total_cpu += best_cpu
        rows.append((spec, best))
        if not args.markdown:
            print(f"{name:<6} {profile:<10} {value:>12.6f} {best:9.4f} s {best_cpu:9.4f} s")
    if args.markdown:
        print(markdown_table(rows))
    print(f"{'total':<6} {'':<10} {'':>12} {total:9.4f} s {total_cpu:9.4f} s")


def markdown_table(rows: list[tuple[object, float]]) -> str:
    """The docs table: one row per metric, from its spec and the measured seconds."""
    from benchbed_metrics.specs import VALUE_RANGES

    lines = [
        "| metric | definition (source) | profiles (default first) | range | better | s @ 640x480 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for spec, seconds in rows:
        profiles = [spec.profile, *sorted(p for p in spec.profiles if p != spec.profile)]
        cite = spec.citation.replace("|", "/")
        better = "higher" if spec.higher_is_better else "lower"
        lines.append(f"| {spec.name} | {spec.summary}. {cite} | {', '.join(profiles)} | "
                     f"{VALUE_RANGES.get(spec.name, '')} | {better} | {seconds:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
