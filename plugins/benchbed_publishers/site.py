"""HTML publisher: a static site (index + one page per suite), plots and example images.

Layout under ``out_dir``::

    index.html                 every suite published here (from each <suite>/site.json)
    <suite>/index.html         the suite's page
    <suite>/site.json          what the index needs (suite, counts, winner, provenance)
    <suite>/plots/*.svg|png    matplotlib figures (SVG for plots with axes)
    <suite>/images/*.png       example degraded/fused images, copied from the artifact cache

Numbers are shown with ``digits`` decimals; each numeric cell carries the stored value at full
precision in ``data-value`` (used for sorting and checked by the tests against the store).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from benchbed.leaderboard import severity_order, sweep_x

from . import plots
from ._common import arrow, ci_text, condition_label, exact, fmt, rows_by, slug, suite_dir
from .templates import CSS, JS, TEMPLATES

PLOT_METHODS = 30
"""Methods drawn in a figure or shown in the gallery: the best this many by place (the tables
list every method). A suite of hundreds of methods publishes in bounded time and its figures
stay readable."""


def _top(methods: list[str]) -> list[str]:
    return methods[:PLOT_METHODS]


def _env():  # type: ignore[no-untyped-def]
    from jinja2 import DictLoader, Environment, StrictUndefined

    return Environment(loader=DictLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def _cell(text: Any, value: Any = None, *, sub: str = "", best: bool = False,
          metric: str = "") -> dict[str, Any]:
    return {"text": text, "value": None if value is None else exact(value), "sub": sub,
            "best": best, "metric": metric}


def _is_best(value: float, values: pd.Series, higher: bool) -> bool:
    vals = values.dropna()
    if vals.empty or pd.isna(value):
        return False
    return bool(value == (vals.max() if higher else vals.min()))


class HtmlPublisher:
    """Writes the static site; see the module docstring for the layout."""

    def __init__(self, digits: int = 4, dpi: int = 90) -> None:
        self.digits = digits
        self.dpi = dpi

    # -- page parts --------------------------------------------------------------------------

    def _overall(self, ctx: Any) -> dict[str, Any]:
        ov = ctx.overall
        extra = [(c, label, title) for c, label, title in (
            ("rank_ref", "rank (reference-based)",
             "mean rank over the metrics that compare the fused image with the sources"),
            ("rank_free", "rank (reference-free)",
             "mean rank over the metrics of the fused image alone (they can reward noise)"))
            if c in ov.columns]
        rows = []
        for r in ov.itertuples(index=False):
            placed = not pd.isna(r.place)
            cells = [_cell(int(r.place) if placed else "—", r.place if placed else None),
                     _cell(r.method),
                     _cell(fmt(r.mean_rank, 2), r.mean_rank, best=placed and r.place == 1)]
            cells += [_cell(fmt(getattr(r, c), 2), getattr(r, c)) for c, _, _ in extra]
            cells += [_cell(r.coverage, r.conditions),
                      _cell(fmt(r.s_per_item, 2), r.s_per_item)]
            rows.append({"attrs": {"method": r.method}, "cells": cells})
        columns = [{"label": "place", "title": "place by the headline mean rank"},
                   {"label": "method", "title": ""},
                   {"label": "mean rank", "title": "headline: mean rank over every condition and "
                                                   f"the primary metrics {', '.join(ctx.primary)}"}]
        columns += [{"label": label, "title": title} for _, label, title in extra]
        columns += [{"label": "coverage", "title": "conditions the method was scored in / "
                                                   "conditions of the suite; only full coverage "
                                                   "gets a place"},
                    {"label": "s / item", "title": "mean compute seconds per item on the run's "
                                                   "device (cached restorations shared)"}]
        return {"id": "overall-table", "caption": "", "attrs": {}, "rows": rows,
                "columns": columns}

    def _condition(self, ctx: Any, i: int, dataset: str, degradation: str, severity: str,
                   plots_dir: Path) -> dict[str, Any]:
        s = ctx.summary
        sel = s[(s.dataset == dataset) & (s.degradation == degradation) & (s.severity == severity)]
        mr = ctx.mean_ranks
        mr = mr[(mr.dataset == dataset) & (mr.degradation == degradation) & (mr.severity == severity)]
        metrics = [m for m in ctx.metrics if m in set(sel.metric)]
        hib = ctx.higher_is_better
        d = self.digits
        rows = []
        lookup = rows_by(sel, ["method", "metric"])
        for r in mr.itertuples(index=False):
            cells = [_cell(r.place, r.place), _cell(r.method),
                     _cell(fmt(r.mean_rank, 2), r.mean_rank, best=r.place == 1)]
            n = 0
            for m in metrics:
                row = lookup.get((r.method, m))
                if row is None:
                    cells.append(_cell("—", metric=m))
                    continue
                n = max(n, int(row["n"]))
                cells.append(_cell(fmt(row["mean"], d), row["mean"], metric=m,
                                   sub=ci_text(row["ci_low"], row["ci_high"], row["n"], d),
                                   best=bool(row["tied_best"])))
            cells.append(_cell(n, n))
            rows.append({"attrs": {"method": r.method}, "cells": cells})
        columns = [{"label": "place", "title": "place by mean rank across the primary metrics "
                                               + ", ".join(ctx.primary)},
                   {"label": "method", "title": ""},
                   {"label": "mean rank", "title": "mean of the per-metric ranks"}]
        columns += [{"label": f"{m} {arrow(hib.get(m, True))}",
                     "title": "higher is better" if hib.get(m, True) else "lower is better"}
                    for m in metrics]
        columns.append({"label": "n", "title": "pairs"})
        label = condition_label(dataset, degradation, severity)
        plot = None
        if metrics and not mr.empty:
            name = f"dots-{i:03d}-{slug(dataset)}-{slug(degradation)}-{slug(severity)}.svg"
            plots.metric_dots(sel, metrics, _top(list(mr.method)), hib, label, plots_dir / name,
                              self.dpi)
            plot = f"plots/{name}"
        return {"label": label, "anchor": f"cond-{i}", "plot": plot, "table": {
            "id": f"cond-{i}-table", "caption": "", "columns": columns, "rows": rows,
            "attrs": {"dataset": dataset, "degradation": degradation, "severity": severity}}}

    def _robustness(self, ctx: Any) -> list[dict[str, Any]]:
        rob = ctx.robustness
        if rob.empty:
            return []
        hib = ctx.higher_is_better
        tables = []
        for k, (dataset, grp) in enumerate(rob.groupby("dataset", sort=True)):
            metrics = [m for m in ctx.metrics if m in set(grp.metric)]
            keys = grp[["degradation", "severity", "method"]].drop_duplicates()
            order = {c: i for i, c in enumerate(ctx.conditions())}
            keys = sorted(keys.itertuples(index=False),
                          key=lambda t: (order.get((dataset, t.degradation, t.severity), 1e9),
                                         t.method))
            rows = []
            lookup = rows_by(grp, ["degradation", "severity", "method", "metric"])
            for t in keys:
                cells = [_cell(t.degradation), _cell(t.severity), _cell(t.method)]
                cond = grp[(grp.degradation == t.degradation) & (grp.severity == t.severity)]
                for m in metrics:
                    row = lookup.get((t.degradation, t.severity, t.method, m))
                    if row is None:
                        cells.append(_cell("—", metric=m))
                        continue
                    col = cond[cond.metric == m]["ratio"]
                    # a reference-free ratio above 1 can be noise: no "best" highlight
                    best = not ctx.reference_free.get(m, False) and _is_best(
                        row["ratio"], col, hib.get(m, True))
                    cells.append(_cell(fmt(row["ratio"], 3), row["ratio"], metric=m,
                                       sub=f"[{fmt(row['ci_low'], 3)}, {fmt(row['ci_high'], 3)}]",
                                       best=best))
                rows.append({"attrs": {"method": t.method, "degradation": t.degradation,
                                       "severity": t.severity}, "cells": cells})
            columns = [{"label": "degradation", "title": ""}, {"label": "severity", "title": ""},
                       {"label": "method", "title": ""}]
            columns += [{"label": f"{m} {arrow(hib.get(m, True))}", "title": "degraded / clean"}
                        for m in metrics]
            tables.append({"id": f"robustness-{k}", "caption": f"dataset {dataset}",
                           "attrs": {"dataset": dataset}, "columns": columns, "rows": rows})
        return tables

    def _sweeps(self, ctx: Any, plots_dir: Path) -> list[dict[str, Any]]:
        auc = ctx.sweep_auc
        if auc.empty:
            return []
        hib = ctx.higher_is_better
        s = ctx.summary
        order = severity_order(ctx.plan)
        out = []
        for k, ((dataset, degradation), grp) in enumerate(
                auc.groupby(["dataset", "degradation"], sort=False)):
            metrics = [m for m in ctx.metrics if m in set(grp.metric)]
            methods = [m for m in ctx.overall.method if m in set(grp.method)]
            rows = []
            lookup = rows_by(grp, ["method", "metric"])
            for method in methods:
                cells = [_cell(method)]
                for m in metrics:
                    row = lookup.get((method, m))
                    if row is None:
                        cells.append(_cell("—", metric=m))
                        continue
                    sub = "" if pd.isna(row["auc_ratio"]) else f"÷ clean {fmt(row['auc_ratio'], 3)}"
                    cells.append(_cell(fmt(row["auc"], self.digits), row["auc"], metric=m, sub=sub,
                                       best=_is_best(row["auc"], grp[grp.metric == m]["auc"],
                                                     hib.get(m, True))))
                rows.append({"attrs": {"method": method}, "cells": cells})
            columns = [{"label": "method", "title": ""}]
            columns += [{"label": f"{m} {arrow(hib.get(m, True))}",
                         "title": "normalised area under the severity curve"} for m in metrics]
            label = f"{dataset} · {degradation}"
            sel = s[(s.dataset == dataset) & (s.degradation == degradation)]
            labels = list(dict.fromkeys(sel.severity.astype(str)))
            xs, x_clean, xlabel = sweep_x(ctx.axes, degradation, labels, order.get(degradation))
            xs = {lab: xs[lab] for lab in labels}
            clean = s[(s.dataset == dataset) & (s.degradation.isin(ctx.clean))]
            name = f"severity-{k:03d}-{slug(dataset)}-{slug(degradation)}.svg"
            plots.severity_curves(sel, metrics, _top(methods), xs, clean if not clean.empty else None,
                                  hib, label, plots_dir / name, self.dpi, xlabel=xlabel,
                                  x_clean=x_clean)
            out.append({"label": label, "plot": f"plots/{name}", "table": {
                "id": f"sweep-{k}", "caption": "", "columns": columns, "rows": rows,
                "attrs": {"dataset": dataset, "degradation": degradation}}})
        return out

    def _detection(self, ctx: Any, plots_dir: Path) -> dict[str, Any] | None:
        """Detection figure (mAP/P/R vs degradation) and one table per dataset, if scored."""
        table = ctx.detection
        if table.empty:
            return None
        cfg = ctx.plan.detection if ctx.plan else None
        dashed = [m.label for m in cfg.single_modality] if cfg else []
        conds = ctx.detection_conditions()
        methods = list(table.groupby("method", sort=False)["mAP50"].mean()
                       .sort_values(ascending=False).index)
        name = "detection.png"
        plots.detection_curves(table, conds, methods, dashed,
                               f"{ctx.suite}: detection vs degradation ({cfg.label if cfg else ''})",
                               plots_dir / name, self.dpi)
        d = self.digits
        tables = []
        for k, dataset in enumerate(dict.fromkeys(c[0] for c in conds)):
            sub = table[table.dataset == dataset]
            dconds = [c for c in conds if c[0] == dataset]
            rows = []
            for method in methods:
                cells = [_cell(method)]
                for c in dconds:
                    hit = sub[(sub.method == method) & (sub.degradation == c[1])
                              & (sub.severity == c[2])]
                    if hit.empty:
                        cells.append(_cell("—"))
                        continue
                    r = hit.iloc[0]
                    col = sub[(sub.degradation == c[1]) & (sub.severity == c[2])]["mAP50"]
                    cells.append(_cell(fmt(r.mAP50, d), r.mAP50,
                                       sub=f"P {fmt(r.P, 3)} · R {fmt(r.R, 3)} · "
                                           f"50-95 {fmt(r['mAP50-95'], 3)}",
                                       best=_is_best(r.mAP50, col, True)))
                rows.append({"attrs": {"method": method,
                                       "single": "yes" if method in dashed else "no"},
                             "cells": cells})
            n_gt = int(sub.groupby(["degradation", "severity"]).n_gt.first().max())
            n = int(sub.n.max())
            columns = [{"label": "method", "title": ""}]
            columns += [{"label": f"{g}@{s} ↑", "title": "mAP@0.5 over all pairs of the condition"}
                        for _, g, s in dconds]
            tables.append({"id": f"detection-{k}", "attrs": {"dataset": dataset},
                           "caption": f"{dataset}: mAP@0.5 ({n} pairs, {n_gt} boxes)",
                           "columns": columns, "rows": rows})
        note = (f"Detector {cfg.label if cfg else '?'}, protocol {cfg.protocol if cfg else '?'}: "
                "precision and recall at confidence "
                f"{fmt(cfg.conf if cfg else 0.25, 2)} (IoU 0.5) and mAP@0.5 / mAP@0.5:0.95 over every "
                "pair of a condition (pooled, not averaged per image). Dashed lines are "
                "single-modality rows (the detector on one source alone).")
        if cfg and cfg.protocol == "clean-reference":
            note += (" Ground truth = the detector's own boxes on the clean reference image: this "
                     "measures robustness to the degradation, not absolute accuracy.")
        return {"plot": f"plots/{name}", "tables": tables, "note": note}

    def _examples(self, ctx: Any, folder: Path) -> tuple[list[dict[str, Any]], str]:
        """One pair per degradation (its hardest level): the clean sources, the degraded inputs
        and every method's fused image, captioned with that image's own scores (and, on
        detection suites, drawn with its detections and ground-truth boxes)."""
        if not ctx.examples:
            return [], "Example images were not requested (--no-examples)."
        if ctx.items is None or ctx.cache_dir is None:
            return [], "No artifact cache was given, so no example images are shown."
        cache = Path(ctx.cache_dir)
        items = ctx.items[ctx.items.status == "done"]
        methods = _top(list(ctx.overall.method))
        datasets = [d.name for d in ctx.plan.datasets] if ctx.plan else []
        order = severity_order(ctx.plan)
        missing = 0
        notes: list[str] = []
        out = []
        img_dir = folder / "images"
        for degradation in list(dict.fromkeys(c[1] for c in ctx.conditions())):
            sub = items[items.degradation == degradation]
            if sub.empty:
                continue
            ds_order = [d for d in datasets if d in set(sub.dataset)] + sorted(
                set(sub.dataset) - set(datasets))
            dataset = ds_order[0]
            sub = sub[sub.dataset == dataset]
            sevs = order.get(degradation) or sorted(set(sub.severity))
            sevs = [x for x in sevs if x in set(sub.severity)] or sorted(set(sub.severity))
            severity = sevs[-1]  # the hardest level shows the differences best
            sub = sub[sub.severity == severity]
            best_pair, best_count = None, -1
            for pair_id, grp in sub.groupby("pair_id", sort=True):
                count = sum(_exists(cache, "fused", a.get("fused")) for a in grp.artifacts)
                if count > best_count:
                    best_pair, best_count = pair_id, count
            if best_pair is None or best_count <= 0:
                missing += len(sub)
                continue
            grp = sub[sub.pair_id == best_pair]
            figures: list[dict[str, Any]] = []
            if degradation not in ctx.clean:
                clean, why = self._clean_sources(ctx, items, cache, dataset, best_pair, img_dir)
                figures += clean
                if why and why not in notes:
                    notes.append(why)
            first = grp.iloc[0].artifacts
            for key in sorted(k for k in first if k.startswith("degraded_")):
                src = _copy(cache, "degraded", first[key], img_dir)
                mod = key.split("_", 1)[1]
                what = "clean" if degradation in ctx.clean else f"input ({degradation} @ {severity})"
                if src:
                    figures.append({"src": src, "alt": f"{mod} source, {degradation} {severity}",
                                    "caption": f"{what} {mod}"})
                else:
                    missing += 1
            scores = _item_scores(ctx.frame, dataset, best_pair, degradation, severity)
            boxes = _item_boxes(ctx, dataset, best_pair, degradation, severity)
            by_method = {r.method: r.artifacts for r in grp.itertuples(index=False)}
            for method in [m for m in methods if m in by_method]:
                drawn = boxes.get(method)
                src = _copy(cache, "fused", by_method[method].get("fused"), img_dir,
                            boxes=drawn[0] if drawn else None)
                if not src:
                    missing += 1
                    continue
                values = scores.get(method, {})
                caption = method
                shown = [m for m in ctx.primary if m in values]
                if shown:
                    caption += " · " + ", ".join(f"{m} {fmt(values[m], 3)}" for m in shown)
                if drawn:
                    caption += f" · {drawn[1]}"
                figures.append({"src": src, "alt": f"fused by {method}", "caption": caption})
            out.append({"label": f"{condition_label(dataset, degradation, severity)} · pair "
                                 f"{best_pair}", "figures": figures})
        if missing:
            notes.append(f"{missing} image(s) were not in the artifact cache {cache} and are not "
                         "shown.")
        if out and ctx.primary:
            notes.insert(0, "Captions give each image's own scores on the headline metrics ("
                         + ", ".join(ctx.primary) + ").")
        if out and ctx.detections is not None and not ctx.detections.empty:
            notes.insert(0, "Boxes: green = ground truth (or the clean reference's detections), "
                         "red = the detector's boxes at the suite's confidence.")
        return out, " ".join(notes)

    def _clean_sources(self, ctx: Any, items: pd.DataFrame, cache: Path, dataset: str,
                       pair_id: str, img_dir: Path) -> tuple[list[dict[str, Any]], str]:
        """The pair's clean sources: the suite's clean condition's inputs, else the dataset's own
        files (read through its plugin); none for a dataset that ships degraded images only."""
        rows = items[(items.dataset == dataset) & (items.pair_id == pair_id)
                     & items.degradation.isin(list(ctx.clean))]
        if not rows.empty:
            first = rows.iloc[0].artifacts
            figs = []
            for key in sorted(k for k in first if k.startswith("degraded_")):
                src = _copy(cache, "degraded", first[key], img_dir)
                if src:
                    mod = key.split("_", 1)[1]
                    figs.append({"src": src, "alt": f"clean {mod} source", "caption": f"clean {mod}"})
            if figs:
                return figs, ""
        return _clean_from_dataset(ctx, dataset, pair_id, img_dir)

    # -- publish ------------------------------------------------------------------------------

    def publish(self, frame: pd.DataFrame, out_dir: Path, context: Any) -> list[Path]:
        ctx = context
        out_dir = Path(out_dir)
        folder = suite_dir(out_dir, ctx.suite)  # the core removed this folder's earlier files
        plots_dir = folder / "plots"
        plots_dir.mkdir(parents=True, exist_ok=True)
        env = _env()
        common = {"css": CSS, "js": JS, "level": round(ctx.level * 100), "n_boot": ctx.n_boot,
                  "seed": ctx.seed}
        conditions = [self._condition(ctx, i, *c, plots_dir) for i, c in enumerate(ctx.conditions())]
        methods = list(ctx.overall.method)
        heatmap = None
        if len(ctx.conditions()) > 0:
            plots.rank_heatmap(ctx.mean_ranks, _top(methods), ctx.conditions(),
                               f"{ctx.suite}: mean rank across metrics", plots_dir / "ranks.png",
                               self.dpi)
            heatmap = "plots/ranks.png"
        cd = ctx.critical_difference
        cd_info = None
        if cd is not None:
            plots.cd_diagram(cd, f"{ctx.suite}: average rank over {cd.blocks} (condition, metric) "
                                 f"blocks; Friedman p = {cd.friedman_p:.2g}", plots_dir / "cd.png",
                             self.dpi)
            cd_info = {"plot": "plots/cd.png", "blocks": cd.blocks, "p": f"{cd.friedman_p:.2g}",
                       "cd": f"{cd.cd:.2f}", "k": len(cd.average_ranks)}
        examples, examples_note = self._examples(ctx, folder)
        datasets = sorted(set(frame.dataset))
        hib = ctx.higher_is_better
        lede = (f"{len(methods)} methods on {', '.join(datasets)}: "
                f"{len(ctx.conditions())} conditions (dataset × degradation × severity), "
                f"{frame.groupby('dataset').pair_id.nunique().sum()} pairs, "
                f"metrics {', '.join(ctx.metrics)}.")
        if len(methods) > PLOT_METHODS:
            lede += (f" Figures and the example gallery show the best {PLOT_METHODS} methods "
                     "by place (per condition: by its place); every table lists all of them.")
        page = env.get_template("suite.html").render(
            title=f"{ctx.suite} — benchbed leaderboard", suite=ctx.suite, lede=lede,
            prov=ctx.provenance, note=ctx.note, overall=self._overall(ctx), heatmap=heatmap,
            cd=cd_info,
            conditions=conditions, robustness=self._robustness(ctx),
            sweeps=self._sweeps(ctx, plots_dir), detection=self._detection(ctx, plots_dir),
            examples=examples, examples_note=examples_note, primary=ctx.primary,
            metric_notes=[f"{m} {arrow(hib.get(m, True))}" for m in ctx.metrics], **common)
        written = [folder / "index.html"]
        written[0].write_text(page)
        winners = ctx.overall[ctx.overall.place == 1].method.tolist()
        if not ctx.detection.empty:
            # a detection suite is about what the detector sees: name that winner too
            det_rank = ctx.detection.groupby("method")["rank"].mean()
            best = det_rank[det_rank == det_rank.min()].index.tolist()
            winners = [f"{', '.join(winners)} (metrics); {', '.join(best)} (mAP@0.5)"]
        placed = ctx.overall.dropna(subset=["place"]).sort_values(["place", "method"])
        prov = dict(ctx.provenance)
        meta = {"suite": ctx.suite, "href": f"{folder.name}/index.html", "datasets": datasets,
                "description": ctx.plan.description if ctx.plan else "",
                "conditions": len(ctx.conditions()), "methods": len(methods),
                "pairs": int(frame.groupby("dataset").pair_id.nunique().sum()),
                "pairs_by_dataset": {str(d): int(n) for d, n in
                                     frame.groupby("dataset").pair_id.nunique().items()},
                "top3": [f"{int(r.place)}. {r.method}" for r in placed.head(3).itertuples()],
                "winner": ", ".join(winners), "provenance": prov, "note": ctx.note,
                "prov_fields": {
                    "plan hash": prov.get("plan_hash", ""),
                    "git commit": prov.get("git_commit", ""),
                    "benchbed": prov.get("benchbed_version", ""),
                    "device": f"{prov.get('device', '')} on {prov.get('host', '')}",
                    "workers": str(prov.get("workers", "")),
                    "packages": ", ".join(f"{k} {v}" for k, v in
                                          sorted(prov.get("packages", {}).items())),
                    "run": f"#{prov.get('run_id', '')} {prov.get('started_at', '')} → "
                           f"{prov.get('finished_at', '')}"}}
        (folder / "site.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        written.append(folder / "site.json")
        written.append(write_index(out_dir, env, common))
        written += sorted(p for p in plots_dir.glob("*") if p.is_file())
        written += sorted(p for p in (folder / "images").glob("*") if p.is_file())
        return written


def write_index(out_dir: Path, env: Any = None, common: dict[str, Any] | None = None) -> Path:
    """(Re)write ``out_dir/index.html`` from every ``out_dir/*/site.json``."""
    env = env or _env()
    suites = []
    for meta in sorted(Path(out_dir).glob("*/site.json")):
        try:
            suites.append(json.loads(meta.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    suites.sort(key=lambda m: m.get("suite", ""))
    common = common or {"css": CSS, "js": JS, "level": 95, "n_boot": 2000, "seed": 0}
    # one provenance block: the fields every suite shares once, a table of those that differ
    fields = [s.get("prov_fields") or {} for s in suites]
    keys = list(dict.fromkeys(k for f in fields for k in f))
    shared = {k: fields[0][k] for k in keys
              if fields and all(f.get(k) == fields[0].get(k) for f in fields)}
    differing = [k for k in keys if k not in shared]
    for s, f in zip(suites, fields):
        s["prov_fields"] = f
    path = Path(out_dir) / "index.html"
    path.write_text(env.get_template("index.html").render(
        title="benchbed leaderboards", suites=suites, shared=shared, differing=differing,
        **common))
    return path


def _exists(cache: Path, kind: str, key: str | None) -> bool:
    return bool(key) and (cache / kind / key[:2] / f"{key}.png").is_file()


PREVIEW_MAX_SIDE = 384
"""Example images larger than this become JPEG previews, so a published site stays small
enough for git (a 640x480 PNG of a noisy image is ~360 KB; its preview ~30 KB)."""


def _copy(cache: Path, kind: str, key: str | None, img_dir: Path,
          boxes: list[tuple[str, list[float]]] | None = None) -> str | None:
    """Copy one cached artifact into the site (byte for byte when small, else a downscaled JPEG
    preview; with ``boxes``, a copy with them drawn); its site-relative path, or None if missing."""
    if not _exists(cache, kind, key):
        return None
    src = cache / kind / str(key)[:2] / f"{key}.png"
    return _preview(src, f"{kind}-{slug(str(key))}", img_dir, boxes)


BOX_COLOURS = {"gt": (0, 200, 0), "pred": (230, 20, 20)}


def _preview(src: Path, stem: str, img_dir: Path,
             boxes: list[tuple[str, list[float]]] | None = None) -> str:
    """``src`` into the site as ``stem``: byte for byte when small and undrawn, else a PNG/JPEG
    copy (downscaled to PREVIEW_MAX_SIDE) with ``boxes`` ((kind, [x1, y1, x2, y2]) in the
    image's pixels) drawn; its site-relative path."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    img_dir.mkdir(parents=True, exist_ok=True)
    with PILImage.open(src) as im:
        small = max(im.size) <= PREVIEW_MAX_SIDE
        name = f"{stem}{'-boxes' if boxes else ''}.{'png' if small else 'jpg'}"
        target = img_dir / name
        if target.exists():
            return f"images/{name}"
        if small and not boxes:
            shutil.copyfile(src, target)
            return f"images/{name}"
        preview = im.convert("RGB" if (im.mode == "RGB" or boxes) else "L")
        scale = 1.0
        if not small:
            preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), PILImage.Resampling.LANCZOS)
            scale = preview.size[0] / im.size[0]
        if boxes:
            draw = ImageDraw.Draw(preview)
            for kind, (x1, y1, x2, y2) in boxes:
                pad = 2 if kind == "gt" else 0  # a detection on its ground truth leaves both seen
                draw.rectangle([x1 * scale - pad, y1 * scale - pad, x2 * scale + pad,
                                y2 * scale + pad], outline=BOX_COLOURS[kind], width=1)
        if small:
            preview.save(target, format="PNG")
        else:
            preview.save(target, format="JPEG", quality=88, optimize=True)
    return f"images/{name}"


def _item_scores(frame: pd.DataFrame, dataset: str, pair_id: str, degradation: str,
                 severity: str) -> dict[str, dict[str, float]]:
    """method -> metric -> the stored score of that one item."""
    sub = frame[(frame.dataset == dataset) & (frame.pair_id == pair_id)
                & (frame.degradation == degradation) & (frame.severity.astype(str) == str(severity))]
    out: dict[str, dict[str, float]] = {}
    for r in sub.itertuples(index=False):
        out.setdefault(str(r.method), {})[str(r.metric)] = float(r.value)
    return out


def _item_boxes(ctx: Any, dataset: str, pair_id: str, degradation: str, severity: str
                ) -> dict[str, tuple[list[tuple[str, list[float]]], str]]:
    """method -> (boxes to draw, caption text) for one item of a detection suite: its stored
    ground truth and its detections at the suite's confidence."""
    det = ctx.detections
    if det is None or det.empty:
        return {}
    cfg = ctx.plan.detection if ctx.plan else None
    conf = cfg.conf if cfg else 0.25
    sub = det[(det.dataset == dataset) & (det.pair_id == pair_id) & (det.degradation == degradation)
              & (det.severity.astype(str) == str(severity)) & (det.class_name != "*")]
    out: dict[str, tuple[list[tuple[str, list[float]]], str]] = {}
    for method, grp in sub.groupby("method", sort=False):
        boxes: list[tuple[str, list[float]]] = []
        n_pred = n_gt = 0
        for payload in grp.payload:
            for g in payload.get("gt", []):
                boxes.append(("gt", [float(v) for v in g[:4]]))
                n_gt += 1
            for p in payload.get("pred", []):
                if float(p[4]) >= conf:
                    boxes.append(("pred", [float(v) for v in p[:4]]))
                    n_pred += 1
        out[str(method)] = (boxes, f"{n_pred} detections at conf ≥ {conf:g}, {n_gt} ground truth")
    return out


def _clean_from_dataset(ctx: Any, dataset: str, pair_id: str, img_dir: Path
                        ) -> tuple[list[dict[str, Any]], str]:
    """The pair's clean sources read through its dataset plugin (needs the data where the site
    is published); ([], why) when they cannot be shown."""
    from benchbed.errors import BenchbedError
    from benchbed.imaging import write_image
    from benchbed.registry import get_registry

    ref = next((d for d in (ctx.plan.datasets if ctx.plan else ()) if d.name == dataset), None)
    if ref is None:
        return [], ""
    try:
        spec = get_registry().get("dataset", dataset)
        if not spec.has_clean:
            return [], (f"{dataset} ships degraded images only: its gallery has no clean "
                        "sources.")
        pair = spec.build(**ref.params).load(pair_id)
    except BenchbedError as exc:
        return [], f"The clean sources of {dataset} are not shown ({exc.message})."
    if pair.sources is None:
        return [], ""
    figs = []
    for image, mod in zip(pair.sources, pair.modalities):
        raw = img_dir / f".clean-{slug(dataset)}-{slug(pair_id)}-{slug(mod)}.png"
        img_dir.mkdir(parents=True, exist_ok=True)
        write_image(raw, image)
        src = _preview(raw, f"clean-{slug(dataset)}-{slug(pair_id)}-{slug(mod)}", img_dir)
        raw.unlink(missing_ok=True)
        figs.append({"src": src, "alt": f"clean {mod} source", "caption": f"clean {mod}"})
    return figs, ""
