"""The published static site: numbers equal the store's, all text escaped, and it works in a
real browser (headless Chromium from Debian's ``chromium`` + ``chromium-driver`` packages via
selenium; skipped when either is missing)."""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from benchbed import leaderboard as lb
from benchbed.cli import main

SUITE = """\
name: sitetest
seed: 11
datasets: [{name: demo, split: test, limit: 3}]
degradations:
  - {name: clean, severities: ["0"]}
  - {name: gaussian_noise, severities: [1, 3]}
  - {name: gaussian_blur, severities: [2]}
methods:
  - average
  - laplacian
  - {restore: auto, fuse: average}
metrics: [EN, SD, QABF]
"""
N_METHODS, N_CONDITIONS, N_METRICS, N_PAIRS = 3, 4, 3, 3


class _Cells(HTMLParser):
    """Collects numeric table cells: (table attrs, row attrs, cell attrs, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.table: dict[str, str] = {}
        self.row: dict[str, str] = {}
        self.cell: dict[str, str] | None = None
        self.text: list[str] = []
        self.sub: list[str] = []
        self.depth = 0
        self.cells: list[tuple[dict, dict, dict, str]] = []
        self.imgs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.table = a
        elif tag == "tr":
            self.row = a
        elif tag == "td":
            self.cell, self.text, self.sub = a, [], []
        elif tag == "span" and self.cell is not None:
            self.depth += 1
        elif tag == "img":
            self.imgs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self.depth:
            self.depth -= 1
        elif tag == "td" and self.cell is not None:
            self.cell["_sub"] = "".join(self.sub).strip()  # e.g. the CI under a mean
            self.cells.append((self.table, self.row, self.cell, "".join(self.text).strip()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.depth:
            self.text.append(data)
        elif self.cell is not None:
            self.sub.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    root = tmp_path_factory.mktemp("site")
    (root / "sitetest.yaml").write_text(SUITE)
    db = f"sqlite:///{root / 'store.db'}"
    runner = CliRunner()
    res = runner.invoke(main, ["--db", db, "run", str(root / "sitetest.yaml"), "--cache",
                               str(root / "cache"), "--no-progress", "--no-show"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["--db", db, "leaderboard", "publish", "--out", str(root / "out"),
                               "--cache", str(root / "cache"), "--n-boot", "300",
                               "--note", "test <b>note</b> & more"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return {"root": root, "out": root / "out", "page": root / "out" / "sitetest" / "index.html",
            "db": root / "store.db"}


def _sql(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def _parse(path: Path) -> _Cells:
    p = _Cells()
    p.feed(path.read_text())
    return p


def test_html_numbers_equal_the_store(site: dict) -> None:
    cells = _parse(site["page"]).cells
    means = {(d, g, s, m, k): (avg, n) for d, g, s, m, k, avg, n in _sql(site["db"], """
        SELECT i.dataset, i.degradation, i.severity, i.method, s.metric, AVG(s.value), COUNT(*)
        FROM items i JOIN scores s ON s.item_id = i.id WHERE i.status = 'done'
        GROUP BY 1, 2, 3, 4, 5""")}
    assert len(means) == N_CONDITIONS * N_METHODS * N_METRICS
    seen = set()
    for table, row, cell, text in cells:
        if "data-severity" not in table or "data-metric" not in cell:
            continue
        key = (table["data-dataset"], table["data-degradation"], table["data-severity"],
               row["data-method"], cell["data-metric"])
        avg, n = means[key]
        assert float(cell["data-value"]) == pytest.approx(avg, rel=1e-12, abs=1e-12), key
        assert text == f"{avg:.4f}", key
        assert n == N_PAIRS
        seen.add(key)
    assert seen == set(means)  # every stored mean is on the page, each exactly once per table
    # robustness ratios: ratio of the store's means over the pairs scored in both conditions
    ratios = {}
    for (d, g, s, m, k), (avg, _n) in means.items():
        if g != "clean":
            ratios[(d, g, s, m, k)] = avg / means[(d, "clean", "0", m, k)][0]
    rob = [(t, r, c, x) for t, r, c, x in cells if t.get("id", "").startswith("robustness")
           and "data-metric" in c]
    assert len(rob) == len(ratios)
    for table, row, cell, _text in rob:
        key = (table["data-dataset"], row["data-degradation"], row["data-severity"],
               row["data-method"], cell["data-metric"])
        assert float(cell["data-value"]) == pytest.approx(ratios[key], rel=1e-12)


def test_site_files_plots_images_and_provenance(site: dict) -> None:
    out, page = site["out"], site["page"]
    text = page.read_text()
    plan_hash, commit, packages, device = _sql(site["db"], "SELECT plan_hash, git_commit, packages, "
                                                           "device FROM runs")[0]
    index = (out / "index.html").read_text()
    for doc in (text, index):
        assert plan_hash in doc and html.escape(commit or "unknown") in doc
        assert html.escape(device) in doc
        for name, version in json.loads(packages).items():
            assert f"{html.escape(name)} {html.escape(str(version))}" in doc
        assert "test &lt;b&gt;note&lt;/b&gt; &amp; more" in doc and "<b>note" not in doc
    assert 'href="sitetest/index.html"' in index
    parsed = _parse(page)
    srcs = [i["src"] for i in parsed.imgs]
    assert all((page.parent / s).is_file() for s in srcs)
    plots = [s for s in srcs if s.startswith("plots/")]
    assert "plots/ranks.png" in plots
    assert sum(s.startswith("plots/dots-") and s.endswith(".svg") for s in plots) == N_CONDITIONS
    assert sum(s.startswith("plots/severity-") for s in plots) == 1  # the noise sweep
    fused = [s for s in srcs if s.startswith("images/fused-")]
    assert len(fused) == N_METHODS * 3  # one pair per degradation (clean, noise, blur)
    # the example images are the cached artifacts, byte for byte
    keys = {k for (a,) in _sql(site["db"], "SELECT artifacts FROM items")
            for k in [json.loads(a).get("fused")] if k}
    for s in fused:
        key = s.removeprefix("images/fused-").removesuffix(".png")
        assert key in keys
        cached = site["root"] / "cache" / "fused" / key[:2] / f"{key}.png"
        assert (page.parent / s).read_bytes() == cached.read_bytes()
    for s in ("scores.csv", "summary.csv", "README.md", "provenance.json"):
        assert (page.parent / s).is_file()


def _hostile_context(tmp_path: Path) -> lb.PublishContext:
    bad = '<script>alert("pwn")</script><img src=x onerror="alert(1)">'
    rows = []
    for p in range(3):
        for method, base in ((f"m{bad}", 1.0), ("plain & <b>", 2.0)):
            rows.append({"suite": f"s{bad}", "dataset": f"d{bad}", "pair_id": f"p{p}",
                         "degradation": f"g{bad}", "severity": f"1{bad}", "method": method,
                         "metric": f"Q{bad}", "profile": "x", "value": base + p, "seconds": 0.0})
    frame = pd.DataFrame(rows)
    prov = {"run_id": 1, "suite": f"s{bad}", "plan_hash": f"h{bad}", "benchbed_version": "0",
            "git_commit": f"c{bad}", "packages": {f"pkg{bad}": f"v{bad}"}, "device": f"dev{bad}",
            "host": f"host{bad}", "workers": 1, "status": "finished", "started_at": f"t{bad}",
            "finished_at": "", "items": {"done": 6}, "computed_by": []}
    return lb.PublishContext(suite=f"s{bad}", frame=frame, higher_is_better={f"Q{bad}": True},
                             provenance=prov, plan=None, items=None, cache_dir=tmp_path,
                             n_boot=50, note=f"note{bad}")


def test_all_text_is_escaped(tmp_path: Path) -> None:
    from benchbed.registry import get_registry

    ctx = _hostile_context(tmp_path)
    written = lb.publish(ctx, tmp_path / "out", get_registry().specs("publisher"))
    pages = [p for p in written if p.suffix in (".html", ".md")]
    assert len(pages) == 3  # suite page, index, markdown
    for page in pages:
        text = page.read_text()
        assert "<img src=x" not in text and "<script>alert" not in text, page
        assert "&lt;img src=x onerror=" in text and "&lt;script>alert" in text.replace("&gt;", ">")
        if page.suffix == ".html":
            assert 'onerror="' not in text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in text
    folders = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    assert len(folders) == 1 and "<" not in folders[0].name and "/" not in folders[0].name


# --- the browser check ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1300,900"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _errors(driver) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in driver.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _column(driver, table_id: str, col: int) -> list[float]:  # type: ignore[no-untyped-def]
    return driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).tBodies[0].rows)"
        ".map(r => Number(r.cells[arguments[1]].getAttribute('data-value')));", table_id, col)


def test_site_in_headless_chromium(browser, site: dict, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver = browser
    for page in (site["out"] / "index.html", site["page"]):
        driver.get(page.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        assert driver.find_element(By.TAG_NAME, "h1").text
        assert _errors(driver) == [], f"console errors on {page}"
        # every image loaded and decoded
        imgs = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
            "i.naturalWidth]);")
        assert all(ok and width > 0 for _src, ok, width in imgs), imgs
    assert len(imgs) >= 1 + N_CONDITIONS + 1 + N_METHODS * 3
    # sorting: click the header of a metric column of the first condition table
    table_id = "cond-0-table"
    headers = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    labels = [h.text.replace("▲", "").replace("▼", "").strip() for h in headers]
    col = labels.index("QABF ↑")
    before = _column(driver, table_id, col)
    headers[col].find_element(By.TAG_NAME, "button").click()
    ascending = _column(driver, table_id, col)
    assert ascending == sorted(before) and headers[col].get_attribute("aria-sort") == "ascending"
    headers[col].find_element(By.TAG_NAME, "button").click()
    assert _column(driver, table_id, col) == sorted(before, reverse=True)
    assert headers[col].get_attribute("aria-sort") == "descending"
    # text column sorts too
    mcol = labels.index("method")
    headers[mcol].click()
    names = driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).tBodies[0].rows)"
        ".map(r => r.cells[arguments[1]].textContent.trim());", table_id, mcol)
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    # the best value of the column is highlighted, with the methods tied with it (not
    # significantly worse: see test_leaderboard's tied-best test); nothing else is
    best = driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' td.best'))"
        ".filter(td => td.cellIndex === arguments[1]).map(td => Number(td.dataset.value));",
        table_id, col)
    assert best and math.isclose(max(best), max(before)) and len(best) <= len(before)
    assert _errors(driver) == []
    # the check itself sees console errors (it is not vacuous)
    driver.execute_script("console.error('benchbed-probe')")
    assert any("benchbed-probe" in e["message"] for e in _errors(driver))
    # screenshots for a reviewer at desktop and phone widths (kept out of git: pytest's tmp dir
    # unless BENCHBED_SCREENSHOT_DIR says otherwise)
    for width in (1400, 400):
        shot = Path(os.environ.get("BENCHBED_SCREENSHOT_DIR", tmp_path)) / f"leaderboard-{width}px.png"
        driver.set_window_size(width, 1600)
        driver.get(site["page"].as_uri())
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 0


def test_large_examples_become_small_jpeg_previews(tmp_path) -> None:
    import numpy as np
    from benchbed_publishers.site import PREVIEW_MAX_SIDE, _copy
    from PIL import Image

    key = "ab" + "0" * 62
    src = tmp_path / "cache" / "fused" / "ab" / f"{key}.png"
    src.parent.mkdir(parents=True)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)
    Image.fromarray(noise).save(src)
    rel = _copy(tmp_path / "cache", "fused", key, tmp_path / "site" / "images")
    assert rel is not None and rel.endswith(".jpg")
    with Image.open(tmp_path / "site" / rel) as im:
        assert max(im.size) == PREVIEW_MAX_SIDE and im.size[0] / im.size[1] == 640 / 480


# --- gallery, intervals and tied winners checked against independent computations --------------


def test_gallery_shows_clean_sources_and_each_images_own_scores(site: dict) -> None:
    import re

    page = site["page"].read_text()
    examples = page[page.index('<section id="examples">'):]
    examples = examples[:examples.index("</section>")]
    galleries = re.findall(r"<h3>(.*?)</h3>\s*<div class=\"gallery\">(.*?)</div>", examples, re.S)
    assert len(galleries) == 3  # clean, noise, blur
    qabf = {(d, p, g, s, m): v for d, p, g, s, m, v in _sql(site["db"], """
        SELECT i.dataset, i.pair_id, i.degradation, i.severity, i.method, s.value
        FROM items i JOIN scores s ON s.item_id = i.id WHERE s.metric = 'QABF'""")}
    for label, body in galleries:
        dataset, degradation, rest = html.unescape(label).split(" · ", 2)
        severity = rest.split("severity ", 1)[1].split(" ", 1)[0]
        pair = rest.rsplit("pair ", 1)[1]
        captions = [html.unescape(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", body)]
        if degradation != "clean":  # the clean sources first, then the degraded inputs
            assert captions[:2] == ["clean ir", "clean vi"] or captions[:2] == ["clean vi", "clean ir"]
        fused = [c for c in captions if " · QABF " in c]
        assert len(fused) == N_METHODS
        for caption in fused:
            method, value = caption.split(" · QABF ")
            # the caption is that one image's stored score (QABF is the headline metric here)
            assert value == f"{qabf[(dataset, pair, degradation, severity, method)]:.3f}"


def _hand_context(tmp_path: Path, frame: pd.DataFrame) -> lb.PublishContext:
    prov = {"run_id": 1, "suite": "hand", "plan_hash": "h", "benchbed_version": "0",
            "git_commit": "c", "packages": {}, "device": "cpu", "host": "h", "workers": 1,
            "status": "finished", "started_at": "", "finished_at": "", "items": {}, "computed_by": []}
    return lb.PublishContext(suite="hand", frame=frame, higher_is_better={"Q": True},
                             provenance=prov, plan=None, items=None, cache_dir=None, n_boot=999,
                             seed=3, examples=False)


def _publish_html(ctx: lb.PublishContext, out: Path) -> _Cells:
    from benchbed.registry import get_registry

    lb.publish(ctx, out, [get_registry().get("publisher", "html")])
    return _parse(out / "hand" / "index.html")


def test_every_ci_cell_shows_the_hand_computed_interval(tmp_path: Path) -> None:
    """Six pairs: the cell shows scipy's seeded BCa interval of the mean computed here by hand;
    three pairs: "[n < 5]" (no interval from so few values)."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(7)
    rows = []
    for deg, n in (("noise", 6), ("blur", 3)):
        for method, shift in (("a", 0.0), ("b", 0.2)):
            for i in range(n):
                rows.append({"suite": "hand", "dataset": "d", "pair_id": f"p{i}",
                             "degradation": deg, "severity": "1", "method": method,
                             "metric": "Q", "profile": "x", "value": float(rng.random() + shift),
                             "seconds": 0.0})
    frame = pd.DataFrame(rows)
    ctx = _hand_context(tmp_path, frame)
    cells = [(t, r, c, x) for t, r, c, x in _publish_html(ctx, tmp_path / "out").cells
             if "data-severity" in t and c.get("data-metric") == "Q"]
    seen = 0
    for table, row, cell, text in cells:
        deg, method = table["data-degradation"], row["data-method"]
        values = np.sort(frame[(frame.degradation == deg) & (frame.method == method)]
                         .value.to_numpy())
        interval = cell["_sub"].removeprefix("[").removesuffix("]")
        if len(values) < 5:
            assert interval == "n < 5", text
        else:
            seed = lb.stats._group_seed(ctx.seed, ("hand", "d", deg, "1", method, "Q"))
            ci = bootstrap((values,), np.mean, n_resamples=999, method="BCa", vectorized=True,
                           random_state=np.random.default_rng(seed)).confidence_interval
            assert interval == f"{ci.low:.4f}, {ci.high:.4f}", (text, ci)
        seen += 1
    assert seen == 4


def test_tied_winners_on_the_page_equal_leaderboard_compare(tmp_path: Path) -> None:
    """The highlighted (tied-best) cells of a condition are the best method plus every method
    whose paired comparison with it, as `benchbed leaderboard compare` computes it, is not
    significant after Holm's correction over the condition's comparisons (applied by hand)."""
    rng = np.random.default_rng(0)
    base = rng.random(12)
    rows = []
    for method, shift, noise in (("best", 0.101, 0.0), ("close", 0.10, 0.02), ("worse", 0.0, 0.01),
                                 ("far", -0.3, 0.05)):
        for i, v in enumerate(base + shift + noise * rng.standard_normal(12)):
            rows.append({"suite": "hand", "dataset": "d", "pair_id": f"p{i:02d}",
                         "degradation": "noise", "severity": "1", "method": method,
                         "metric": "Q", "profile": "x", "value": float(v), "seconds": 0.0})
    frame = pd.DataFrame(rows)
    cells = [(r, c) for t, r, c, _x in _publish_html(_hand_context(tmp_path, frame),
                                                     tmp_path / "out").cells
             if "data-severity" in t and c.get("data-metric") == "Q"]
    shown = {r["data-method"] for r, c in cells if "best" in c.get("class", "").split()}
    means = frame.groupby("method").value.mean()
    best = str(means.idxmax())
    others = [m for m in means.index if m != best]
    pvals = [float(lb.paired_compare(frame, best, m, {"Q": True}).iloc[0]["p"]) for m in others]
    order = np.argsort(pvals)  # Holm step-down by hand
    adjusted, running = [0.0] * len(pvals), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvals) - rank) * pvals[i]))
        adjusted[i] = running
    expected = {best} | {m for m, p in zip(others, adjusted) if p >= 0.05}
    assert shown == expected
    assert "far" not in shown and best in shown  # the example is not vacuous


def test_figures_and_gallery_are_bounded_and_tables_list_every_method(
        site: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With more methods than PLOT_METHODS, figures and the gallery show the best ones by place
    (a suite of hundreds of methods publishes in bounded time); each table still lists all."""
    import re

    import benchbed_publishers.site as site_mod

    monkeypatch.setattr(site_mod, "PLOT_METHODS", 2)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{site['db']}", "leaderboard", "publish",
                                    "--out", str(out), "--cache", str(site["root"] / "cache"),
                                    "--n-boot", "300", "--publisher", "html"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    page = (out / "sitetest" / "index.html").read_text()
    assert "show the best 2 methods by place" in page
    overall = [r[0] for r in _sql(site["db"], "SELECT DISTINCT method FROM items")]
    assert len(overall) == N_METHODS
    cells = _parse(out / "sitetest" / "index.html")
    for i in range(N_CONDITIONS):  # every condition table keeps its N_METHODS rows
        rows = {row.get("data-method") for table, row, _, _ in cells.cells
                if table.get("id") == f"cond-{i}-table"}
        assert len(rows) == N_METHODS
    examples = page[page.index('<section id="examples">'):]
    for body in re.findall(r"<div class=\"gallery\">(.*?)</div>", examples, re.S):
        assert len(re.findall(r'alt="fused by ', body)) == 2
    for svg in (out / "sitetest" / "plots").glob("dots-*.svg"):
        labels = set(re.findall(r"<text [^>]*>([^<]*)</text>", svg.read_text()))
        assert len({html.escape(m) for m in overall} & labels) == 2, svg.name
