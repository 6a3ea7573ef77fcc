"""benchbed.detection.evaluate against ultralytics' own validator on the same predictions and labels.

The reference path is ultralytics' ``DetectionValidator.update_metrics`` (its ``_process_batch``
-> ``match_predictions`` matching) feeding ``DetMetrics.process`` (``ap_per_class``), exactly as
``yolo val`` runs it after NMS. Agreement is required to 1e-4 on: AP50 and AP50-95 per class,
mAP50 and mAP50-95, the max-F1 precision/recall ``yolo val`` prints, and the per-class TP counts
at IoU 0.5 behind benchbed's precision/recall at a declared confidence.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from benchbed.detection import ImageRecord, evaluate

TOL = 1e-4
CLASSES = ["person", "bicycle", "car"]


def synthetic(seed: int, n_images: int = 40, size: tuple[int, int] = (480, 640)) -> list[ImageRecord]:
    """Labels and YOLO-like predictions: jittered true boxes (some of the wrong class), misses,
    duplicates and background false positives, with scores from 0.001 to 1."""
    rng = np.random.default_rng(seed)
    h, w = size
    out = []
    for _ in range(n_images):
        m = int(rng.integers(0, 7))
        wh = rng.uniform(15, 160, (m, 2))
        xy = rng.uniform(0, 1, (m, 2)) * (np.array([w, h]) - wh)
        gt = np.concatenate([xy, xy + wh], 1)
        gt_cls = rng.choice(3, m, p=[0.6, 0.1, 0.3])
        boxes, cls = [], []
        for b, c in zip(gt, gt_cls):
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, or found twice
                jitter = rng.normal(0, 0.12, 4) * np.r_[b[2] - b[0], b[3] - b[1]].repeat(2)[[0, 2, 1, 3]]
                boxes.append(b + jitter)
                cls.append(c if rng.random() > 0.1 else rng.integers(0, 3))
        for _ in range(int(rng.integers(0, 6))):  # background
            bw, bh = rng.uniform(10, 120, 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            boxes.append(np.array([x, y, x + bw, y + bh]))
            cls.append(rng.integers(0, 3))
        n = len(boxes)
        scores = np.round(rng.uniform(0.001, 1.0, n), 4)
        scores[rng.random(n) < 0.15] = 0.5  # ties across images, as quantised scores give
        order = np.argsort(-scores, kind="stable")  # NMS output order
        pb = np.asarray(boxes, float).reshape(-1, 4)[order]
        pb = np.clip(pb, 0, [w, h, w, h])
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        out.append(ImageRecord(gt, gt_cls.astype(np.int64), pb, scores[order],
                               np.asarray(cls, np.int64)[order]))
    return out


def ultralytics_metrics(records: list[ImageRecord], tmp_path: Path, size=(480, 640)):  # type: ignore[no-untyped-def]
    """Run ultralytics' DetectionValidator bookkeeping over the records; returns (metrics, tp)."""
    pytest.importorskip("ultralytics")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics.models.yolo.detect.val import DetectionValidator

    h, w = size
    v = DetectionValidator(save_dir=tmp_path, args={"plots": False, "save_json": False,
                                                    "save_txt": False})
    v.names = dict(enumerate(CLASSES))
    v.nc = len(CLASSES)
    v.metrics.names = v.names
    v.seen, v.is_custom_json, v.build_gdict = 0, False, False
    v.device = torch.device("cpu")
    tps = []
    for i, r in enumerate(records):
        m = len(r.gt_cls)
        xywh = np.c_[(r.gt_boxes[:, :2] + r.gt_boxes[:, 2:]) / 2, r.gt_boxes[:, 2:] - r.gt_boxes[:, :2]]
        batch = {
            "batch_idx": torch.zeros(m),
            "cls": torch.tensor(r.gt_cls, dtype=torch.float32).reshape(-1, 1),
            "bboxes": torch.tensor(xywh / [w, h, w, h], dtype=torch.float32).reshape(-1, 4),
            "ori_shape": [(h, w)],
            "img": torch.zeros(1, 3, h, w),
            "ratio_pad": [((1.0, 1.0), (0.0, 0.0))],
            "im_file": [f"im{i}.png"],
        }
        pred = {"bboxes": torch.tensor(r.pred_boxes, dtype=torch.float32).reshape(-1, 4),
                "conf": torch.tensor(r.pred_scores, dtype=torch.float32),
                "cls": torch.tensor(r.pred_cls, dtype=torch.float32)}
        v.update_metrics([pred], batch)
        tps.append(v.metrics.stats["tp"][-1])
    v.metrics.process(save_dir=tmp_path, plot=False)
    return v.metrics, tps


def as_float32(records: list[ImageRecord]) -> list[ImageRecord]:
    """The values ultralytics sees (float32 tensors), so both sides score identical inputs."""
    return [ImageRecord(r.gt_boxes.astype(np.float32).astype(float), r.gt_cls,
                        r.pred_boxes.astype(np.float32).astype(float),
                        r.pred_scores.astype(np.float32).astype(float), r.pred_cls) for r in records]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_ultralytics_validator(seed: int, tmp_path: Path) -> None:
    records = synthetic(seed)
    um, u_tps = ultralytics_metrics(records, tmp_path)
    mine = evaluate(as_float32(records), CLASSES, conf=0.25)
    box = um.box
    idx = list(box.ap_class_index)
    assert idx == [c for c in range(3) if mine.classes[c].n_gt > 0]
    for k, c in enumerate(idx):
        assert mine.classes[c].mAP50 == pytest.approx(box.ap50[k], abs=TOL)
        assert mine.classes[c].mAP50_95 == pytest.approx(box.ap[k], abs=TOL)
        assert mine.classes[c].ap == pytest.approx(list(box.all_ap[k]), abs=TOL)
        assert mine.classes[c].P_f1 == pytest.approx(box.p[k], abs=TOL)
        assert mine.classes[c].R_f1 == pytest.approx(box.r[k], abs=TOL)
    assert mine.overall.mAP50 == pytest.approx(box.map50, abs=TOL)
    assert mine.overall.mAP50_95 == pytest.approx(box.map, abs=TOL)
    assert mine.overall.P_f1 == pytest.approx(box.mp, abs=TOL)
    assert mine.overall.R_f1 == pytest.approx(box.mr, abs=TOL)
    assert mine.overall.mAP50 > 0.2  # a non-trivial case

    # P/R at the declared confidence: TP counts from ultralytics' own matching
    tp = np.concatenate(u_tps)[:, 0]
    conf = np.concatenate([r.pred_scores for r in as_float32(records)])
    cls = np.concatenate([r.pred_cls for r in records])
    gt = np.concatenate([r.gt_cls for r in records])
    for level in (0.001, 0.25, 0.5, 0.9):
        res = evaluate(as_float32(records), CLASSES, conf=level)
        ps, rs = [], []
        for c in idx:
            sel = (cls == c) & (conf >= level)
            n_tp = int(tp[sel].sum())
            assert res.classes[c].tp == n_tp and res.classes[c].n_pred == int(sel.sum())
            ps.append(n_tp / sel.sum() if sel.sum() else 0.0)
            rs.append(n_tp / (gt == c).sum())
            assert res.classes[c].P == pytest.approx(ps[-1], abs=TOL)
            assert res.classes[c].R == pytest.approx(rs[-1], abs=TOL)
        assert res.overall.P == pytest.approx(np.mean(ps), abs=TOL)
        assert res.overall.R == pytest.approx(np.mean(rs), abs=TOL)


def test_agreement_figures(tmp_path: Path) -> None:
    """Largest absolute difference over a bigger synthetic set (printed with -s)."""
    records = synthetic(7, n_images=150)
    um, _ = ultralytics_metrics(records, tmp_path)
    mine = evaluate(as_float32(records), CLASSES)
    diffs = [abs(mine.overall.mAP50 - um.box.map50), abs(mine.overall.mAP50_95 - um.box.map),
             abs(mine.overall.P_f1 - um.box.mp), abs(mine.overall.R_f1 - um.box.mr)]
    for k, c in enumerate(um.box.ap_class_index):
        diffs += list(np.abs(np.asarray(mine.classes[c].ap) - um.box.all_ap[k]))
    print(f"\nmax |benchbed - ultralytics| over {len(diffs)} values: {max(diffs):.2e} "
          f"(mAP50 {mine.overall.mAP50:.6f} vs {um.box.map50:.6f})")
    assert max(diffs) < TOL
