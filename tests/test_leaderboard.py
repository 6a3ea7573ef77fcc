"""Leaderboard statistics (bootstrap CIs, ranks, robustness, sweep AUC, paired tests) and CLI."""

from __future__ import annotations

import json
import math
import sqlite3
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import wilcoxon

from benchbed import leaderboard as lb
from benchbed.cli import main
from benchbed.errors import BenchbedError
from benchbed.leaderboard.summary import BoardSummary, stored_summary
from benchbed.store import open_store

SUITE = """\
name: lbtest
seed: 5
datasets: [{name: demo, split: test, limit: 4}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [1, 3]}
methods:
  - average
  - laplacian
metrics: [EN, QABF]
"""


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """rows of (dataset, pair, degradation, severity, method, metric, value)."""
    df = pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                     "metric", "value"])
    df.insert(0, "suite", "s")
    df["profile"] = "p"
    df["seconds"] = 0.0
    return df


def _synthetic(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for deg, sevs in (("clean", ["0"]), ("noise", ["1", "2", "3"])):
        for sev in sevs:
            for p in range(6):
                for method, base in (("a", 10.0), ("b", 8.0), ("c", 8.0)):
                    level = 0 if deg == "clean" else int(sev)
                    rows.append(("d", f"p{p}", deg, sev, method, "Q",
                                 base - level + rng.normal(0, 0.3)))
                    rows.append(("d", f"p{p}", deg, sev, method, "ERR",
                                 1.0 + level * 0.5 + (0.2 if method == "a" else 0.0)))
    return _frame(rows)


HIB = {"Q": True, "ERR": False}


# --- statistics --------------------------------------------------------------------------------


def test_bootstrap_ci_is_seeded_bca_and_refuses_tiny_samples() -> None:
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    lo, hi = lb.bootstrap_ci(x, seed=42, n_boot=500)
    assert (lo, hi) == lb.bootstrap_ci(x, seed=42, n_boot=500)
    assert (lo, hi) != lb.bootstrap_ci(x, seed=43, n_boot=500)
    assert lo < x.mean() < hi
    # BCa is skew-corrected: for this right-skewed sample the upper arm is the longer one
    assert hi - x.mean() > x.mean() - lo
    # below 5 values there is no interval (publishers print "n < 5"); constant values are exact
    for tiny in ([], [2.5], [1.0, 2.0, 3.0, 4.0]):
        assert all(math.isnan(v) for v in lb.bootstrap_ci(tiny, seed=0))
    assert lb.bootstrap_ci([7.0] * 5, seed=1) == (7.0, 7.0)


def test_bootstrap_ci_agrees_with_the_t_interval_for_a_large_normal_sample() -> None:
    """Reference: Student's t interval mean ± t_{0.975, n-1} s / sqrt(n) (exact for normal data);
    BCa converges to it, so at n = 400 the bounds agree to a small fraction of the width."""
    from scipy import stats

    x = np.random.default_rng(7).normal(10.0, 2.0, 400)
    lo, hi = lb.bootstrap_ci(x, seed=0, n_boot=4000)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    assert lo == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert hi == pytest.approx(x.mean() + half, abs=0.1 * half)


def _scipy_interval(x: np.ndarray, seed: int, n_boot: int) -> tuple[float, float]:
    """Reference: scipy.stats.bootstrap (BCa; percentile where BCa is undefined), called by hand."""
    import warnings

    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=0.95, method=method,
                           random_state=np.random.default_rng(seed), vectorized=True,
                           axis=-1).confidence_interval
        if math.isfinite(ci.low) and math.isfinite(ci.high):
            break
    return (float(ci.low), float(ci.high))


def test_bootstrap_of_the_mean_is_scipys_interval_bit_for_bit() -> None:
    # The mean's interval is computed without scipy's per-call overhead; it must stay scipy's
    # number exactly (published CIs were made with scipy), degenerate samples included: ties,
    # one outlier (BCa undefined -> percentile), heavy tails, near-constant values.
    rng = np.random.default_rng(5)
    for k in range(120):
        n = int(rng.integers(5, 260))
        x = [rng.random(n), np.round(rng.random(n), 1), np.r_[np.zeros(n - 1), 1.0],
             rng.standard_cauchy(n), np.r_[np.full(n - 1, 0.3), 0.3 + 1e-9]][k % 5]
        x = np.sort(x)
        n_boot = (2000, 499)[k % 2]
        assert lb.bootstrap_ci(x, seed=k, n_boot=n_boot) == _scipy_interval(x, k, n_boot), (k, n)


def test_summary_frame_is_the_same_with_threads_and_without(monkeypatch) -> None:
    import benchbed.leaderboard.stats as stats_mod

    rng = np.random.default_rng(2)
    frame = pd.DataFrame([{"suite": "s", "dataset": "d", "degradation": "noise", "severity": str(v),
                           "method": m, "metric": "Q", "pair_id": f"p{i}", "value": rng.random()}
                          for v in range(40) for m in "ab" for i in range(6)])
    threaded = lb.summary_frame(frame, n_boot=200, seed=3)  # 80 groups: threads when cores > 1
    monkeypatch.setattr(stats_mod.os, "cpu_count", lambda: 1)
    pd.testing.assert_frame_equal(threaded, lb.summary_frame(frame, n_boot=200, seed=3))


def test_summary_frame_values_and_order_independence() -> None:
    frame = _synthetic()
    summary = lb.summary_frame(frame, n_boot=300, seed=1)
    assert len(summary) == 4 * 3 * 2  # conditions x methods x metrics
    sel = frame[(frame.degradation == "noise") & (frame.severity == "2") & (frame.method == "b")
                & (frame.metric == "Q")]["value"].to_numpy()
    row = summary[(summary.degradation == "noise") & (summary.severity == "2")
                  & (summary.method == "b") & (summary.metric == "Q")].iloc[0]
    assert row["mean"] == pytest.approx(sel.mean(), rel=1e-12)
    assert row["std"] == pytest.approx(sel.std(ddof=1), rel=1e-12)
    assert row["n"] == 6 and row["ci_low"] < row["mean"] < row["ci_high"]
    # the bootstrap of one group depends on the seed and the group only, not on the rest
    shuffled = frame.sample(frac=1.0, random_state=3)
    sub = shuffled[shuffled.method != "c"]
    again = lb.summary_frame(sub, n_boot=300, seed=1)
    merged = summary.merge(again, on=lb.GROUP, suffixes=("", "_2"))
    assert len(merged) == len(again)
    for col in ("mean", "ci_low", "ci_high"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_2"], rtol=1e-12)


def test_ranks_respect_direction_and_ties() -> None:
    ranked = lb.rank_frame(lb.summary_frame(_synthetic(), n_boot=50), HIB)
    cond = ranked[(ranked.degradation == "noise") & (ranked.severity == "1")]
    q = cond[cond.metric == "Q"].set_index("method")["rank"]
    assert q["a"] == 1  # highest Q
    err = cond[cond.metric == "ERR"].set_index("method")["rank"]
    assert err["b"] == 1 and err["c"] == 1 and err["a"] == 3  # lower is better; b, c tie
    mr = lb.mean_rank_frame(ranked)
    row = mr[(mr.degradation == "noise") & (mr.severity == "1") & (mr.method == "a")].iloc[0]
    assert row["mean_rank"] == pytest.approx((q["a"] + 3) / 2)
    overall = lb.overall_rank_frame(ranked)
    assert set(overall.method) == {"a", "b", "c"} and (overall.conditions == 4).all()


def test_robustness_ratio_uses_common_pairs_of_the_same_method() -> None:
    frame = _frame([
        ("d", "p0", "clean", "0", "m", "Q", 10.0), ("d", "p1", "clean", "0", "m", "Q", 20.0),
        ("d", "p0", "noise", "1", "m", "Q", 5.0), ("d", "p1", "noise", "1", "m", "Q", 15.0),
        ("d", "p2", "noise", "1", "m", "Q", 99.0),  # no clean counterpart: ignored
        ("d", "p0", "clean", "0", "k", "Q", 1.0), ("d", "p0", "noise", "1", "k", "Q", 2.0),
    ])
    rob = lb.robustness_frame(frame, n_boot=200).set_index("method")
    assert rob.loc["m", "ratio"] == pytest.approx(20.0 / 30.0)
    assert rob.loc["m", "n"] == 2 and rob.loc["m", "mean_clean"] == pytest.approx(15.0)
    assert rob.loc["k", "ratio"] == pytest.approx(2.0)
    # two pairs: no interval (the n < 5 rule of every CI of the package)
    assert math.isnan(rob.loc["m", "ci_low"]) and math.isnan(rob.loc["m", "ci_high"])
    assert lb.robustness_frame(frame[frame.degradation != "clean"]).empty


def test_robustness_ratio_ci_is_the_paired_bootstrap_of_the_ratio_of_means() -> None:
    rng = np.random.default_rng(3)
    clean = rng.uniform(10, 20, 12)
    noisy = clean * rng.uniform(0.5, 0.7, 12)
    frame = _frame([("d", f"p{i:02d}", "clean", "0", "m", "Q", float(c)) for i, c in enumerate(clean)]
                   + [("d", f"p{i:02d}", "noise", "1", "m", "Q", float(v)) for i, v in enumerate(noisy)])
    row = lb.robustness_frame(frame, n_boot=999, seed=5).iloc[0]
    assert row["ratio"] == pytest.approx(noisy.mean() / clean.mean())
    assert row["ci_low"] < row["ratio"] < row["ci_high"]
    # the same interval as scipy's paired BCa bootstrap of mean(d)/mean(c) called by hand
    from scipy.stats import bootstrap

    seed = lb.stats._group_seed(5, ("robustness", "s", "d", "noise", "1", "m", "Q"))
    ci = bootstrap((noisy, clean), lambda a, b, axis=-1: a.mean(axis) / b.mean(axis),
                   n_resamples=999, paired=True, vectorized=True, method="BCa",
                   random_state=np.random.default_rng(seed)).confidence_interval
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
    # the ratio lies in the observed per-pair ratios' range: a sane, not a degenerate, interval
    assert (noisy / clean).min() <= row["ci_low"] and row["ci_high"] <= (noisy / clean).max()


def test_sweep_auc_is_the_normalised_trapezoid_with_clean_at_zero() -> None:
    rows = [("d", "p0", "clean", "0", "m", "Q", 10.0)]
    rows += [("d", "p0", "noise", s, "m", "Q", v) for s, v in (("1", 8.0), ("2", 6.0), ("4", 2.0))]
    summary = lb.summary_frame(_frame(rows), n_boot=10)
    auc = lb.sweep_auc_frame(summary).iloc[0]
    # points (0,10) (1,8) (2,6) (4,2): area 9 + 7 + 8 = 24 over x range 4
    assert auc["auc"] == pytest.approx(6.0)
    assert auc["auc_ratio"] == pytest.approx(0.6)
    no_clean = lb.sweep_auc_frame(summary[summary.degradation != "clean"]).iloc[0]
    assert no_clean["auc"] == pytest.approx((7 + 8) / 3) and math.isnan(no_clean["auc_ratio"])
    # non-numeric levels are placed 1..k in plan order
    assert lb.severity_positions(["hi", "lo"], ["lo", "hi"]) == {"lo": 1.0, "hi": 2.0}


def test_holm_correction() -> None:
    assert lb.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert lb.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = lb.holm([0.02, float("nan")])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1])


def test_paired_compare_matches_scipy_and_names_the_better_method() -> None:
    frame = _synthetic()
    table = lb.paired_compare(frame, "a", "b", HIB, n_boot=300, seed=2).set_index("metric")
    a = frame[frame.method == "a"].sort_values(["degradation", "severity", "pair_id", "metric"])
    b = frame[frame.method == "b"].sort_values(["degradation", "severity", "pair_id", "metric"])
    d = a[a.metric == "Q"]["value"].to_numpy() - b[b.metric == "Q"]["value"].to_numpy()
    assert table.loc["Q", "n"] == 24
    assert table.loc["Q", "diff"] == pytest.approx(d.mean(), rel=1e-12)
    assert table.loc["Q", "p"] == pytest.approx(wilcoxon(d).pvalue, rel=1e-12)
    assert table.loc["Q", "ci_low"] < table.loc["Q", "diff"] < table.loc["Q", "ci_high"]
    assert table.loc["Q", "better"] == "a"  # higher Q
    assert table.loc["ERR", "better"] == "b"  # a has the larger error
    assert table.p_holm.tolist() == pytest.approx(lb.holm(table.p.tolist()))
    same = lb.paired_compare(frame, "b", "c", HIB, n_boot=50).set_index("metric")
    assert same.loc["ERR", "p"] == 1.0 and same.loc["ERR", "better"] == "-"
    per = lb.paired_compare(frame, "a", "b", HIB, by=["degradation"], n_boot=50)
    assert set(per.degradation) == {"clean", "noise"} and len(per) == 4
    with pytest.raises(BenchbedError, match=r"did you mean|no scores"):
        lb.paired_compare(frame, "a", "zz", HIB)


def test_filters() -> None:
    frame = _synthetic()
    assert lb.parse_filters(["method=a,b", "severity=1"]) == {"method": ["a", "b"],
                                                              "severity": ["1"]}
    sub = lb.filter_frame(frame, {"method": ["a", "b"], "severity": 1, "metric": None})
    assert set(sub.method) == {"a", "b"} and set(sub.severity) == {"1"}
    with pytest.raises(BenchbedError, match="no such column"):
        lb.filter_frame(frame, {"colour": "red"})
    with pytest.raises(BenchbedError, match="COLUMN=VALUE"):
        lb.parse_filters(["method"])


def test_markdown_cells_are_escaped() -> None:
    md = lb.markdown_table(pd.DataFrame({"m": ["a|b<script>"], "v": [1]}))
    assert "a\\|b&lt;script>" in md and "<script>" not in md


# --- CLI on a real store -------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("lbstore")
    (root / "lbtest.yaml").write_text(SUITE)
    opts = {"db": f"sqlite:///{root / 'store.db'}", "cache": str(root / "cache"),
            "path": str(root / "store.db"), "root": str(root)}
    res = CliRunner().invoke(main, ["--db", opts["db"], "run", str(root / "lbtest.yaml"),
                                    "--cache", opts["cache"], "--no-progress", "--no-show"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return opts


def _cli(store: dict[str, str], *args: str, ok: bool = True) -> str:
    res = CliRunner().invoke(main, ["--db", store["db"], *args], catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    else:
        assert res.exit_code == 2, res.output
    return res.output


def _sql(store: dict[str, str], sql: str) -> list[tuple]:
    with sqlite3.connect(store["path"]) as con:
        return con.execute(sql).fetchall()


def test_show_formats_and_views(store: dict[str, str]) -> None:
    table = _cli(store, "leaderboard", "show", "--suite", "lbtest")
    assert "leaderboard: lbtest" in table and "laplacian" in table
    rows = json.loads(_cli(store, "leaderboard", "show", "--suite", "lbtest", "--view", "stats",
                           "--format", "json"))
    ref = {(d, s, m, k): (avg, n) for d, s, m, k, avg, n in _sql(store, """
        SELECT i.degradation, i.severity, i.method, s.metric, AVG(s.value), COUNT(*)
        FROM items i JOIN scores s ON s.item_id = i.id WHERE i.status = 'done'
        GROUP BY 1, 2, 3, 4""")}
    assert len(rows) == len(ref) == 3 * 2 * 2
    for r in rows:
        avg, n = ref[(r["degradation"], r["severity"], r["method"], r["metric"])]
        assert r["mean"] == pytest.approx(avg, rel=1e-12) and r["n"] == n == 4
        assert r["ci_low"] is None and r["ci_high"] is None  # 4 pairs: below MIN_CI_N, no interval
        assert {"std", "rank", "mean_rank", "place"} <= set(r)
    csv = pd.read_csv(StringIO(_cli(store, "leaderboard", "show", "--suite", "lbtest", "--view",
                                    "stats", "--format", "csv", "--method", "laplacian",
                                    "--severity", "3", "--metric", "QABF")))
    assert len(csv) == 1 and csv.method[0] == "laplacian"
    md = _cli(store, "leaderboard", "show", "--suite", "lbtest", "--format", "markdown",
              "--where", "rank=1")
    assert md.startswith("| dataset |") and md.count("\n") >= 4
    rob = pd.read_csv(StringIO(_cli(store, "leaderboard", "show", "--suite", "lbtest", "--view",
                                    "robustness", "--format", "csv")))
    assert set(rob.degradation) == {"gaussian_noise"} and len(rob) == 2 * 2 * 2
    auc = pd.read_csv(StringIO(_cli(store, "leaderboard", "show", "--suite", "lbtest", "--view",
                                    "auc", "--format", "csv")))
    # x is the physical noise sigma in /255 (DegradationSpec.axis): clean at 0, level 3 = 14/255
    assert len(auc) == 2 * 2 and (auc.x_from == 0).all() and (auc.x_to == 14).all()
    assert set(auc.axis) == {"noise σ (/255)"}
    err = _cli(store, "leaderboard", "show", "--suite", "lbtest", "--where", "colour=red", ok=False)
    assert "no such column" in err


def test_compare_cli(store: dict[str, str]) -> None:
    out = json.loads(_cli(store, "leaderboard", "compare", "laplacian", "average", "--suite",
                          "lbtest", "--format", "json"))
    assert {r["metric"] for r in out} == {"EN", "QABF"}
    assert all(r["n"] == 12 and r["ci_low"] <= r["diff"] <= r["ci_high"] for r in out)
    text = _cli(store, "leaderboard", "compare", "laplacian", "average", "--suite", "lbtest",
                "--by", "degradation")
    assert "Wilcoxon" in text and "gaussian_noise" in text
    err = _cli(store, "leaderboard", "compare", "laplacian", "averge", "--suite", "lbtest", ok=False)
    assert "averge" in err and "average" in err


def test_publish_cli_writes_markdown_csv_and_html(store: dict[str, str]) -> None:
    out = Path(store["root"]) / "site"
    text = _cli(store, "leaderboard", "publish", "--suite", "lbtest", "--out", str(out),
                "--cache", store["cache"], "--n-boot", "200", "--note", "demo, --limit 4")
    assert "published lbtest" in text
    suite = out / "lbtest"
    for name in ("README.md", "index.html", "summary.csv", "scores.csv", "robustness.csv",
                 "sweep_auc.csv", "mean_ranks.csv", "overall.csv", "provenance.json"):
        assert (suite / name).is_file(), name
    assert (out / "index.html").is_file()
    md = (suite / "README.md").read_text()
    plan_hash = _sql(store, "SELECT plan_hash FROM runs")[0][0]
    assert plan_hash in md and "demo, --limit 4" in md and "## Robustness" in md
    scores = pd.read_csv(suite / "scores.csv")
    assert len(scores) == _sql(store, "SELECT COUNT(*) FROM scores")[0][0]
    assert sorted(scores.value) == sorted(v for (v,) in _sql(store, "SELECT value FROM scores"))
    assert len(list((suite / "images").glob("fused-*.png"))) == 2 * 2  # 2 methods x 2 degradations
    assert {p.name for p in (suite / "plots").glob("*.png")} >= {"ranks.png"}
    err = _cli(store, "leaderboard", "publish", "--suite", "nope", "--out", str(out), ok=False)
    assert "no results for suite 'nope'" in err


def test_tied_best_marks_methods_not_significantly_worse_than_the_best() -> None:
    """Paired Wilcoxon + Holm against the best method: a clearly worse method is not tied, one
    that differs by noise is; with 4 pairs nothing can be significant, so all are tied."""
    rng = np.random.default_rng(0)
    base = rng.random(12)
    rows = []
    for method, shift, noise in (("best", 0.10, 0.0), ("close", 0.10, 0.02), ("worse", 0.0, 0.0)):
        vals = base + shift + noise * rng.standard_normal(12)
        rows += [("s", "d", "noise", "1", f"p{i}", method, "Q", v) for i, v in enumerate(vals)]
    frame = pd.DataFrame(rows, columns=["suite", "dataset", "degradation", "severity", "pair_id",
                                        "method", "metric", "value"])
    frame.loc[frame.method == "best", "value"] += 0.001  # best by mean, barely
    hib = {"Q": True}
    ranked = lb.rank_frame(lb.summary_frame(frame, n_boot=200), hib)
    tied = lb.mark_tied_best(ranked, frame, hib).set_index("method")["tied_best"]
    assert tied.to_dict() == {"best": True, "close": True, "worse": False}
    few = frame[frame.pair_id.isin(["p0", "p1", "p2", "p3"])]
    ranked = lb.rank_frame(lb.summary_frame(few, n_boot=200), hib)
    assert lb.mark_tied_best(ranked, few, hib)["tied_best"].all()


def test_overall_ranking_places_only_methods_with_full_coverage() -> None:
    """A method scored in 1 of 2 conditions is listed with its coverage but gets no place."""
    rows = []
    for deg in ("noise", "blur"):
        for method, v in (("a", 0.5), ("b", 0.4), ("partial", 0.9)):
            if method == "partial" and deg == "blur":
                continue
            rows += [("s", "d", deg, "1", f"p{i}", method, "Q", v + 0.01 * i) for i in range(3)]
    frame = pd.DataFrame(rows, columns=["suite", "dataset", "degradation", "severity", "pair_id",
                                        "method", "metric", "value"])
    ov = lb.overall_rank_frame(lb.rank_frame(lb.summary_frame(frame, n_boot=100), {"Q": True}))
    ov = ov.set_index("method")
    assert ov.loc["a", "place"] == 1 and ov.loc["b", "place"] == 2
    assert math.isnan(ov.loc["partial", "place"]) and ov.loc["partial", "coverage"] == "1/2"
    assert ov.loc["a", "coverage"] == "2/2"


def test_nemenyi_critical_values_match_demsar_table() -> None:
    """Demšar (JMLR 7, 2006), Table 5(a), q_0.05: k = 2, 4, 10 -> 1.960, 2.569, 3.164."""
    for k, q in ((2, 1.960), (4, 2.569), (10, 3.164)):
        assert lb.nemenyi_q(k) == pytest.approx(q, abs=2e-3)


def test_critical_difference_separates_a_clearly_better_method() -> None:
    """Friedman + Nemenyi on 30 blocks: 'good' always first, 'x' and 'y' interchangeable."""
    rng = np.random.default_rng(1)
    rows = []
    for b in range(30):
        for method, v in (("good", 1.0), ("x", 0.5 + 0.01 * rng.standard_normal()),
                          ("y", 0.5 + 0.01 * rng.standard_normal())):
            rows.append(("s", "d", f"deg{b}", "1", method, "Q", v, 0.0, 3, v, v))
    summary = pd.DataFrame(rows, columns=[*lb.GROUP, "mean", "std", "n", "ci_low", "ci_high"])
    cd = lb.critical_difference(summary, {"Q": True})
    assert cd is not None and cd.blocks == 30 and cd.average_ranks["good"] == 1.0
    assert cd.friedman_p < 1e-6
    assert cd.cd == pytest.approx(lb.nemenyi_q(3) * math.sqrt(3 * 4 / (6 * 30)))
    assert cd.cliques() == [["x", "y"]] or cd.cliques() == [["y", "x"]]


# --- the ranked view from arrays (leaderboard show at scale) -----------------------------------

def _write_scores(path: Path, values: dict[tuple[str, str, str, str, str], float],
                  extra: list[tuple[int, str, str, float]] = ()) -> None:
    """Items (one per (pair, degradation, severity, method)) and their scores into the
    synthetic store's tables; ``extra`` adds scores of metrics the plan does not list."""
    con = sqlite3.connect(path)
    items: dict[tuple[str, ...], int] = {}
    with con:
        for (pair, deg, sev, method, metric), v in values.items():
            key = (pair, deg, sev, method)
            if key not in items:
                items[key] = len(items) + 1
                con.execute("INSERT INTO items (id, suite, item_key, run_id, dataset, pair_id, "
                            "degradation, severity, method, seed, status, seconds, artifacts, "
                            "created_at) VALUES (?, 'synth', ?, 1, 'msrs', ?, ?, ?, ?, 1, 'done',"
                            " 0.5, '{}', '2025-01-01 00:00:00')",
                            (items[key], f"{items[key]:064x}", pair, deg, sev, method))
                con.execute("INSERT INTO run_items (run_id, item_id) VALUES (1, ?)",
                            (items[key],))
            profile = "vifb" if metric == "QABF" else "evaluator"
            con.execute("INSERT INTO scores (item_id, metric, profile, version, value) "
                        "VALUES (?, ?, ?, '1', ?)", (items[key], metric, profile, v))
        for item_id, metric, profile, v in extra:
            con.execute("INSERT INTO scores (item_id, metric, profile, version, value) "
                        "VALUES (?, ?, ?, '1', ?)", (item_id, metric, profile, v))
    con.close()


def test_ranked_view_from_arrays_is_bit_for_bit_the_frames(tmp_path: Path) -> None:
    """`leaderboard show` ranks from the board's arrays (no long frame); the means must be the
    frame's to the last bit, ties included, under every filter the view takes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "stages", Path(__file__).resolve().parents[1] / "benchmarks" / "stages.py")
    stages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stages)
    path = tmp_path / "synth.db"
    stages.build_store(path, 1)  # the schema, the suite's run and one pair's rows
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM scores")
        con.execute("DELETE FROM run_items")
        con.execute("DELETE FROM items")
    con.close()
    rng = np.random.default_rng(3)
    values = {}
    for p in range(7):
        for deg, sev in (("clean", "0"), ("gaussian_noise", "2")):
            for method in ("average", "gff", "laplacian"):
                for metric in ("EN", "QABF", "SD"):
                    # magnitudes 1e-8..1e8: a sum in another order would differ in the last bits
                    v = float(rng.normal() * 10.0 ** rng.integers(-8, 9))
                    values[(f"msrs-{p:05d}", deg, sev, method, metric)] = v
            for metric in ("EN", "QABF", "SD"):  # an exact tie: gff equals average everywhere
                values[(f"msrs-{p:05d}", deg, sev, "gff", metric)] = \
                    values[(f"msrs-{p:05d}", deg, sev, "average", metric)]
    _write_scores(path, values, extra=[(1, "NOT_IN_PLAN", "evaluator", 1.0)])
    sessions = open_store(f"sqlite:///{path}")
    scores = lb.board_scores(sessions, "synth")
    frame = lb.scores_frame(sessions, "synth")
    assert len(scores) == len(frame) == len(values)  # the unlisted metric is not read
    pd.testing.assert_frame_equal(scores.frame(), frame, check_exact=True)
    hib = {"EN": True, "QABF": True, "SD": False}
    stored = BoardSummary.from_payload("synth", BoardSummary.of(scores).payload())
    assert stored.where({"pair_id": ["msrs-00001"]}) is None  # not a whole-group filter
    for kwargs in ({}, {"metric": "QABF"}, {"degradation": "gaussian_noise"},
                   {"filters": {"pair_id": ["msrs-00001", "msrs-00004"], "method": ["gff",
                                                                                   "laplacian"]}},
                   {"primary": ["EN", "SD"], "metric_order": ["SD", "QABF", "EN"]}):
        fast = lb.ranked_table(scores, hib, **kwargs)
        slow = lb.ranked_table(frame, hib, **kwargs)
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)
        if "pair_id" not in kwargs.get("filters", {}):  # the stored summary, through its JSON
            pd.testing.assert_frame_equal(lb.ranked_table(stored, hib, **kwargs), slow,
                                          check_exact=True)
    tied = lb.ranked_table(scores, hib)
    by = tied.set_index(["degradation", "method"])
    assert (by.loc[("clean", "gff"), "rank"] == by.loc[("clean", "average"), "rank"]).all()
    with pytest.raises(BenchbedError, match="no scores match"):
        lb.ranked_table(scores, hib, filters={"pair_id": ["nope"]})
    with pytest.raises(BenchbedError, match="cannot filter"):
        lb.ranked_table(scores, hib, filters={"value": ["1.0"]})


def test_a_runs_stored_summary_serves_show_until_the_board_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stores its board's means; `show` reads them (not the scores) while the board's
    fingerprint holds, and any write to the board (a score, a status) sends it back to the
    scores, whose numbers it then shows."""
    from benchbed.leaderboard import views
    from benchbed.registry import Registry

    (tmp_path / "lbtest.yaml").write_text(SUITE)
    db = f"sqlite:///{tmp_path / 'store.db'}"

    def run(code: int = 0) -> None:
        res = CliRunner().invoke(main, ["--db", db, "run", str(tmp_path / "lbtest.yaml"),
                                        "--cache", str(tmp_path / "cache"), "--no-progress",
                                        "--no-show"], catch_exceptions=False)
        assert res.exit_code == code, res.output

    def show(*args: str) -> str:
        res = CliRunner().invoke(main, ["--db", db, "leaderboard", "show", "--suite", "lbtest",
                                        "--format", "csv", *args], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output

    run()
    sessions = open_store(db)
    board = lb.select_board(sessions, "lbtest")
    assert stored_summary(sessions, board) is not None
    from_scores = {args: show(*args) for args in [(), ("--metric", "QABF"),
                                                  ("--where", "method=laplacian"),
                                                  ("--where", "pair_id=demo-01")]}

    def refuse(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("read every score although the stored summary is valid")

    with monkeypatch.context() as mp:
        mp.setattr(views, "board_scores", refuse)
        for args in [(), ("--metric", "QABF"), ("--where", "method=laplacian")]:
            assert show(*args) == from_scores[args]  # the same text, from the summary
        with pytest.raises(AssertionError, match="read every score"):
            show("--where", "pair_id=demo-01")  # per-pair filters need the scores
    hib = views.higher_is_better_map(Registry(), ["EN", "QABF"])

    def expected() -> pd.DataFrame:
        return lb.ranked_table(lb.board_scores(sessions, "lbtest", board), hib,
                               primary=["QABF"], metric_order=["EN", "QABF"])

    # a score changed behind the summary's back: it no longer counts, show reads the scores
    _sql({"path": str(tmp_path / "store.db")},
         "UPDATE scores SET value = value + 1 WHERE id = (SELECT MIN(id) FROM scores)")
    assert stored_summary(sessions, board) is None
    shown = lb.score_view(sessions, Registry(), "lbtest", board=board).table
    pd.testing.assert_frame_equal(shown, expected(), check_exact=True)
    assert show() != from_scores[()]
    run()  # a run that computes nothing still refreshes the summary (of the board it joined)
    assert stored_summary(sessions, board) is None
    board = lb.select_board(sessions, "lbtest")
    assert board.run_ids == (2, 1) and stored_summary(sessions, board) is not None
    _sql({"path": str(tmp_path / "store.db")},
         "UPDATE items SET status = 'failed' WHERE id = (SELECT MAX(id) FROM items)")
    assert stored_summary(sessions, board) is None
    # a summary of another payload format is never used
    run(code=1)  # the item marked failed stays failed (exit 1); the board without it
    board = lb.select_board(sessions, "lbtest")
    assert stored_summary(sessions, board) is not None
    _sql({"path": str(tmp_path / "store.db")},
         "UPDATE board_summaries SET payload = replace(payload, '\"format\": 1', '\"format\": 0')")
    assert stored_summary(sessions, board) is None
