"""Does DRFusion behave as its paper says on our boards? Checks issue 13's "done when" items on the
results store (full-test-set runs of drfusion-ivf, drfusion-pet-mri and drfusion-ablation):

1. under blur and composite, DRFusion's mean Q_AB/F and Q_W are >= the best cascade's, or the
   best cascade's lead is not significant (the paired 95% bootstrap CI of drfusion - cascade
   contains 0);
2. DRFusion's mean rank over the suite's metrics is better than every `zoo_auto` cascade's under
   every (dataset, degradation);
3. drfusion > drfusion-noconstraint in mean Q_AB/F and Q_W in every (dataset, degradation) of
   the ablation suite.

    BENCHBED_DB=sqlite:///.benchbed/leaderboard.db .venv/bin/python benchmarks/drfusion_claims.py

Prints one line per check and exits 1 when any fails (0 when all hold).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from benchbed.leaderboard import higher_is_better_map, paired_compare, ranked_table, scores_frame
from benchbed.paths import default_db_url
from benchbed.registry import Registry
from benchbed.store import open_store

QABF = "QABF"
KEY_METRICS = (QABF, "QW")


def _is_cascade(method: str) -> bool:
    return ">" in method


def check_cascades(frame: pd.DataFrame, hib: dict[str, bool], suite: str) -> list[tuple[bool, str]]:
    """Checks 1 and 2 for one suite."""
    out = []
    ranked = ranked_table(frame, hib).reset_index()
    for (ds, deg), grp in frame.groupby(["dataset", "degradation"]):
        sub_rank = ranked[(ranked.dataset == ds) & (ranked.degradation == deg)].set_index("method")
        if "drfusion" not in sub_rank.index:
            out.append((False, f"{suite} {ds} {deg}: no drfusion scores"))
            continue
        mine = float(sub_rank.loc["drfusion", "mean_rank"])
        for zoo in [m for m in sub_rank.index if m.startswith("zoo_auto>")]:
            theirs = float(sub_rank.loc[zoo, "mean_rank"])
            out.append((mine < theirs,
                        f"{suite} {ds} {deg}: mean rank drfusion {mine:.2f} vs {zoo} {theirs:.2f}"))
        if deg not in ("gaussian_blur", "composite"):
            continue
        for metric in KEY_METRICS:
            means = grp[grp.metric == metric].groupby("method")["value"].mean()
            cascades = means[[m for m in means.index if _is_cascade(m)]]
            best = str(cascades.idxmax())
            ours = float(means["drfusion"])
            if ours >= float(cascades.max()):
                out.append((True, f"{suite} {ds} {deg} {metric}: drfusion {ours:.4f} >= best cascade "
                                  f"{best} {cascades.max():.4f}"))
                continue
            sel = grp[(grp.metric == metric) & grp.method.isin(["drfusion", best])]
            cmp = paired_compare(sel, "drfusion", best, hib).iloc[0]
            tied = cmp.ci_low <= 0.0 <= cmp.ci_high
            out.append((tied, f"{suite} {ds} {deg} {metric}: drfusion {ours:.4f} < {best} "
                              f"{cascades.max():.4f}, diff {cmp['diff']:+.4f} CI [{cmp.ci_low:+.4f}, "
                              f"{cmp.ci_high:+.4f}] n={cmp.n} -> {'inside' if tied else 'OUTSIDE'}"))
    return out


def check_ablation(frame: pd.DataFrame, conditions: set[tuple[str, str, str]]) -> list[tuple[bool, str]]:
    """Check 3: the correction helps in every (dataset, degradation, severity) of the main suites."""
    out = []
    for (ds, deg, sev), grp in frame.groupby(["dataset", "degradation", "severity"]):
        if (ds, deg, sev) not in conditions:
            continue  # e.g. composite level 3 (PET's x2) on an IR-VIS dataset
        for metric in KEY_METRICS:
            means = grp[grp.metric == metric].groupby("method")["value"].mean()
            if not {"drfusion", "drfusion-noconstraint"} <= set(means.index):
                continue
            a, b = float(means["drfusion"]), float(means["drfusion-noconstraint"])
            out.append((a > b, f"drfusion-ablation {ds} {deg}/{sev} {metric}: drfusion {a:.4f} vs "
                               f"noconstraint {b:.4f}"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print every check; 1 when any fails."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="store URL (default BENCHBED_DB)")
    ap.add_argument("--suites", nargs="*", default=["drfusion-ivf", "drfusion-pet-mri"])
    ap.add_argument("--ablation", default="drfusion-ablation")
    args = ap.parse_args(argv)
    sessions = open_store(args.db or default_db_url())
    registry = Registry()
    results: list[tuple[bool, str]] = []
    conditions: set[tuple[str, str, str]] = set()
    for suite in args.suites:
        frame = scores_frame(sessions, suite)
        conditions |= set(map(tuple, frame[["dataset", "degradation", "severity"]].astype(str).values))
        results += check_cascades(frame, higher_is_better_map(registry, frame.metric.unique()), suite)
    if args.ablation:
        results += check_ablation(scores_frame(sessions, args.ablation), conditions)
    for ok, line in results:
        print(("ok    " if ok else "FAIL  ") + line)
    failed = sum(not ok for ok, _ in results)
    print(f"{len(results) - failed} of {len(results)} checks hold")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
