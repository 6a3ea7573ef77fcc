"""Detection in runs: items, single-modality rows, store rows, resume, cache, protocols, errors.

Uses a toy dataset (bright squares: a small 'person' seen in IR only, a big 'car' seen in the
visible image only) and a toy detector (connected components), so it needs no ultralytics.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbed.cli import main

TOY = '''
import numpy as np
from scipy import ndimage
from benchbed import DatasetSpec, DetectorSpec, Pair, hookimpl
from benchbed.detection import Detections

CALLS = []
H, W = 64, 80

class Squares:
    modalities = ("ir", "vi")
    def pair_ids(self, split=None):
        return ["p0", "p1", "p2"]
    def load(self, pid):
        i = int(pid[1:])
        ir = np.full((H, W), 0.1, np.float32)
        vi = np.full((H, W, 3), 0.2, np.float32)
        py, px = 8 + 4 * i, 6 + 3 * i          # person 10x10, IR only
        cy, cx = 30, 40 + 2 * i                # car 20x16, visible only
        ir[py:py + 10, px:px + 10] = 1.0
        vi[cy:cy + 16, cx:cx + 20] = 1.0
        labels = np.array([[0, (px + 5) / W, (py + 5) / H, 10 / W, 10 / H],
                           [1, (cx + 10) / W, (cy + 8) / H, 20 / W, 16 / H]])
        return Pair(id=pid, modalities=("ir", "vi"), sources=(ir, vi), labels=labels)

class Blobs:
    names = ("person", "car", "dog")
    def __init__(self, threshold=0.45):
        self.threshold = threshold
    def detect(self, image):
        CALLS.append(image.shape)
        g = image.mean(axis=2) if image.ndim == 3 else image
        lab, n = ndimage.label(g > self.threshold)
        boxes, scores, classes = [], [], []
        for sl in ndimage.find_objects(lab):
            y, x = sl
            boxes.append([x.start, y.start, x.stop, y.stop])
            scores.append(float(g[sl].mean()))
            classes.append(0 if (x.stop - x.start) <= 12 else 1)
        return Detections(np.array(boxes, float).reshape(-1, 4), np.array(scores),
                          np.array(classes), self.names)

@hookimpl
def benchbed_register_datasets():
    return [DatasetSpec(name="squares", version="1", summary="toy", factory=Squares,
                        modalities=("ir", "vi"))]

@hookimpl
def benchbed_register_detectors():
    return [DetectorSpec(name="blobs", version="1", summary="toy", factory=Blobs,
                         params={"threshold": 0.45}, classes=Blobs.names)]
'''

SUITE = """\
name: det-toy
seed: 1
datasets: [{name: squares, split: null}]
degradations: [clean, {name: gaussian_noise, severities: [1]}]
methods: [average, maxabs]
metrics: [EN]
detection:
  detector: blobs
  protocol: labels
  conf: 0.25
  classes: [person, car]
  single_modality: [ir, vi]
"""


@pytest.fixture
def toy(workdir: Path):  # type: ignore[no-untyped-def]
    (workdir / "toy_det.py").write_text(TOY)
    sys.path.insert(0, str(workdir))
    yield workdir
    sys.path.remove(str(workdir))
    sys.modules.pop("toy_det", None)


def _run(args: list[str], ok: bool = True, stdout: bool = False) -> str:
    res = CliRunner().invoke(main, ["--plugin", "toy_det", *args], catch_exceptions=False)
    if ok:
        assert res.exit_code == 0, res.output
    return res.stdout if stdout else res.output


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def _table(workdir: Path, *extra: str) -> dict[tuple[str, str], float]:
    import io

    import pandas as pd

    out = _run(["leaderboard", "show", "--suite", "det-toy", "--view", "detection",
                "--format", "csv", *extra], stdout=True)
    t = pd.read_csv(io.StringIO(out))
    return {(r.degradation, r.method): r for r in t.itertuples()}


def test_detection_run_store_and_leaderboard(toy: Path) -> None:
    suite = toy / "det.yaml"
    suite.write_text(SUITE)
    out = _run(["run", str(suite), "--no-progress"])
    assert "items: 24 planned, 24 computed" in out  # 3 pairs x 2 conditions x (2 fusers + 2 rows)
    assert "detection: det-toy (blobs, protocol labels" in out
    db = toy / "store.db"
    assert _rows(db, "select count(*) from detections")[0][0] == 24 * 3  # '*' + 2 classes
    assert _rows(db, "select count(distinct protocol), min(protocol), min(detector) "
                     "from detections") == [(1, "labels", "blobs")]
    # single-modality rows carry detections but no fusion metrics
    assert _rows(db, "select count(*) from items i join scores s on s.item_id = i.id "
                     "where i.method like '%-only'") == [(0,)]
    t = _table(toy)
    for deg in ("clean", "gaussian_noise"):
        assert t[(deg, "average")].mAP50 == pytest.approx(0.995)
        assert t[(deg, "ir-only")].mAP50 == pytest.approx(0.995 / 2)  # finds the person only
        assert t[(deg, "vi-only")].mAP50 == pytest.approx(0.995 / 2)  # finds the car only
        assert (t[(deg, "average")].P, t[(deg, "average")].R) == (1.0, 1.0)
        assert t[(deg, "ir-only")].R == pytest.approx(0.5)
    per = _run(["leaderboard", "show", "--suite", "det-toy", "--view", "detection", "--per-class",
                "--where", "class=car", "--format", "csv"])
    assert "ir-only" in per and ",person," not in per
    from toy_det import CALLS

    n_calls = len(CALLS)
    assert n_calls == 24

    # resume: nothing recomputed, no detector call
    out = _run(["run", str(suite), "--no-progress"])
    assert "0 computed, 24 skipped" in out and len(CALLS) == n_calls

    # a new detection config (protocol) recomputes detections only: fused images come from the
    # cache; detections of the clean reference are cached by content
    suite.write_text(SUITE.replace("protocol: labels", "protocol: clean-reference\n"
                                                      "  reference: average"))
    out = _run(["run", str(suite), "--no-progress"])
    assert "24 computed" in out and "fusions: 0 computed" in out
    assert "robustness, not accuracy" in out
    assert len(CALLS) == n_calls  # every image (and the reference) was already detected
    t = _table(toy)
    assert t[("clean", "average")].mAP50 == pytest.approx(0.995)  # the reference itself
    assert t[("clean", "ir-only")].mAP50 == pytest.approx(0.995 / 2)
    assert _rows(db, "select count(distinct protocol) from detections") == [(2,)]


def test_single_modality_with_restorer_and_view_labels(toy: Path) -> None:
    suite = toy / "det.yaml"
    suite.write_text(SUITE.replace("single_modality: [ir, vi]",
                                   "single_modality: [{modality: ir, restore: nlm}]")
                     .replace("methods: [average, maxabs]", "methods: [average]"))
    out = _run(["run", str(suite), "--no-progress"])
    assert "nlm>ir-only" in out
    # inline labels have no per-view files: `labels: view` says so
    suite.write_text(SUITE + "  labels: view\n")
    out = _run(["run", str(suite), "--no-progress"], ok=False)
    assert "per-view labels need label files" in out


@pytest.mark.parametrize(("edit", "needle"), [
    (("classes: [person, car]", "classes: [pedestrian, car]"),
     "class 'pedestrian' is not a class of detector 'blobs' and the suite's class_map does not map it"),
    (("classes: [person, car]", "classes: [person, car]\n  class_map: {person: persn}"),
     "'persn' is not a class of detector 'blobs'"),
    (("classes: [person, car]", "classes: [person, car]\n  class_map: {prson: person}"),
     "class_map names 'prson'"),
    (("protocol: labels", "protocol: clean-reference"), "protocol clean-reference needs `reference:`"),
    (("protocol: labels", "protocol: clean-reference\n  reference: gff"),
     "'gff' is not a method of this suite"),
    (("protocol: labels", "protocol: labels\n  reference: average"),
     "only the clean-reference protocol takes a reference"),
    (("detector: blobs", "detector: blob"), "did you mean 'blobs'"),
    (("conf: 0.25", "conf: 2"), "detection/conf"),
    (("conf: 0.25", "confidence: 0.25"), "confidence"),
    (("single_modality: [ir, vi]", "single_modality: [thermal]"), "no dataset of the suite has modality"),
])
def test_detection_config_errors_are_one_line(toy: Path, edit, needle) -> None:  # type: ignore[no-untyped-def]
    suite = toy / "det.yaml"
    suite.write_text(SUITE.replace(*edit))
    res = CliRunner().invoke(main, ["--plugin", "toy_det", "run", str(suite), "--no-progress"])
    assert res.exit_code != 0
    assert needle in res.output, res.output
    assert "Traceback" not in res.output
    db = toy / "store.db"
    assert not db.exists() or _rows(db, "select count(*) from items") == [(0,)]  # nothing ran


def test_shipped_detection_suite_validates() -> None:
    from conftest import REPO

    from benchbed.registry import get_registry
    from benchbed.suites import load_plan

    plan = load_plan(REPO / "suites" / "detection-msrs.yaml", get_registry())
    det = plan.detection
    assert det is not None and (det.label, det.protocol, det.conf) == ("yolo", "labels", 0.25)
    assert [s.label for s in det.single_modality] == ["ir-only", "vi-only", "auto>ir-only",
                                                      "auto>vi-only"]
    assert [d.name for d in plan.degradations] == [
        "clean", "gaussian_noise", "gaussian_blur", "composite", "low_light"]
    assert {d.name: d.split for d in plan.datasets} == {"msrs": "detection", "llvip": "detection"}


def test_published_leaderboard_has_the_detection_figure_and_tables(toy: Path) -> None:
    suite = toy / "det.yaml"
    suite.write_text(SUITE)
    _run(["run", str(suite), "--no-progress"])
    _run(["leaderboard", "publish", "--suite", "det-toy", "--out", str(toy / "site"),
          "--no-examples"])
    folder = toy / "site" / "det-toy"
    assert (folder / "plots" / "detection.png").stat().st_size > 5000
    html = (folder / "index.html").read_text()
    assert 'id="detection"' in html and "plots/detection.png" in html
    import pandas as pd

    csv = pd.read_csv(folder / "detection.csv")
    # the same pooled numbers as the leaderboard view: fusion finds both objects, each source one
    got = {(r.degradation, r.method): r.mAP50 for r in csv.itertuples()}
    assert got[("clean", "average")] == pytest.approx(0.995)
    assert got[("gaussian_noise", "ir-only")] == pytest.approx(0.995 / 2)
    md = (folder / "README.md").read_text()
    detection_md = md[md.index("## Detection"):md.index("## Files")]
    # columns in the suite's order (clean first), best value in bold
    assert "| method | clean@0 | gaussian_noise@1 |" in detection_md
    assert "**0.995**" in detection_md and "| ir-only | 0.497 | 0.497 |" in detection_md
    import json

    # the index names the detection winner too (both fusers find both objects: a tie)
    winner = json.loads((folder / "site.json").read_text())["winner"]
    assert winner.endswith("average, maxabs (mAP@0.5)"), winner


def test_detection_gallery_draws_each_images_boxes(toy: Path) -> None:
    """On a detection suite the example images carry the item's ground truth (green) and its
    detections at the suite's confidence (red), with the counts in the caption."""
    import re

    import numpy as np
    from PIL import Image

    suite = toy / "det.yaml"
    suite.write_text(SUITE)
    _run(["run", str(suite), "--no-progress"])
    _run(["leaderboard", "publish", "--suite", "det-toy", "--out", str(toy / "site")])
    folder = toy / "site" / "det-toy"
    page = (folder / "index.html").read_text()
    drawn = re.findall(r'<img src="(images/fused-[^"]+-boxes\.png)"[^>]*></a><figcaption>([^<]*)',
                       page)
    assert drawn, "no example image with boxes"
    for src, caption in drawn:
        assert re.search(r"\d+ detections at conf ≥ 0\.25, \d+ ground truth", caption), caption
        rgb = np.asarray(Image.open(folder / src).convert("RGB")).astype(int)
        green = (rgb[..., 1] == 200) & (rgb[..., 0] == 0) & (rgb[..., 2] == 0)
        red = (rgb[..., 0] == 230) & (rgb[..., 1] == 20) & (rgb[..., 2] == 20)
        n_gt = int(re.search(r"(\d+) ground truth", caption).group(1))
        n_pred = int(re.search(r"(\d+) detections", caption).group(1))
        assert green.any() == (n_gt > 0) and red.any() == (n_pred > 0), (src, caption)
