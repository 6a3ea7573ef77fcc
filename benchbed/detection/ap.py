"""Detection scoring: labels, class maps, protocols, and P/R/mAP over a dataset (one implementation).

A detector plugin (``benchbed_register_detectors``) builds an object with
``detect(image) -> Detections``: boxes in pixels (x1, y1, x2, y2) of the image it was given,
scores, and detector class ids with the detector's class names. These functions turn those boxes
into the numbers a leaderboard shows, under a protocol declared in the suite:

``labels``
    Ground truth = the dataset's YOLO-format boxes (``class cx cy w h``, normalised), with a
    class map from dataset classes to detector classes. Absolute accuracy on labelled data.
``clean-reference``
    For data without labels: ground truth = the detector's own boxes (score >= reference_conf)
    on the *clean* image of a declared reference (a method of the suite fused from the clean
    sources, or one clean source). Degraded runs are scored against those boxes, so the
    numbers measure **robustness to the degradation** (how much of what the detector saw on
    clean input it still sees), not absolute accuracy: a method that is wrong in the same way
    on clean and degraded input scores high.

Metrics (``evaluate``), pooled over every image of a condition (never averaged per image):

- per image, predictions (sorted by descending score) are matched greedily to unclaimed
  ground-truth boxes of the same class with the highest IoU, separately at each IoU threshold
  0.50, 0.55, ..., 0.95 (the matching of ultralytics' ``DetectionValidator.match_predictions``
  and of COCO);
- AP per class = area under the precision envelope, 101-point interpolation and trapezoidal
  integration over recall (ultralytics ``compute_ap``); mAP50 = mean over classes that have
  ground truth of AP at IoU 0.5, mAP50-95 = mean over those classes and the ten thresholds;
- precision and recall at the declared confidence ``conf``: among predictions with
  score >= conf, TP at IoU 0.5 / predictions (0 when there are none) and TP / ground truth;
  the overall value is the mean over classes with ground truth (as ultralytics' "all" row);
- ``P_f1``/``R_f1``: precision/recall at the confidence that maximises the smoothed mean F1,
  which is what ``yolo val`` prints as P and R (kept for comparison with papers that quote it).

Agreement with ultralytics' validator on the same predictions and labels is tested to 1e-4
(tests/test_detection_ultralytics.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
"""The ten IoU thresholds of mAP@0.5:0.95."""
_EPS = 1e-16  # ultralytics ap_per_class eps
_IOU_EPS = 1e-7  # ultralytics / torchvision box_iou eps


# --- per-item payloads (what the store keeps) -----------------------------------------------------


def item_rows(class_names: Sequence[str], gt_boxes: np.ndarray, gt_cls: np.ndarray,
              pred_boxes: np.ndarray, pred_scores: np.ndarray, pred_cls: np.ndarray
              ) -> dict[str, dict[str, Any]]:
    """One payload per dataset class: ``{"gt": [[x1,y1,x2,y2],...], "pred": [[x1,y1,x2,y2,s],...]}``.

    Matching is per class, so splitting an image by class loses nothing: the union of the rows
    of an item is its full set of boxes. Predictions keep the detector's (score) order.
    """
    out = {}
    for ci, name in enumerate(class_names):
        g = gt_boxes[gt_cls == ci]
        m = pred_cls == ci
        p = np.concatenate([pred_boxes[m], pred_scores[m, None]], axis=1) if m.any() else np.zeros((0, 5))
        out[name] = {"gt": np.round(g, 3).tolist(),
                     "pred": [[*np.round(r[:4], 3).tolist(), round(float(r[4]), 6)] for r in p]}
    return out


@dataclass
class ImageRecord:
    """Boxes of one image for evaluation (dataset class ids)."""

    gt_boxes: np.ndarray
    gt_cls: np.ndarray
    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    pred_cls: np.ndarray

    @classmethod
    def from_rows(cls, rows: Mapping[str, Mapping[str, Any]], class_names: Sequence[str]
                  ) -> ImageRecord:
        """Build from the per-class payloads of one item (``item_rows`` format)."""
        index = {n: i for i, n in enumerate(class_names)}
        gb, gc, pb, ps, pc = [], [], [], [], []
        for name, payload in rows.items():
            ci = index[name]
            g = np.asarray(payload.get("gt", []), dtype=np.float64).reshape(-1, 4)
            p = np.asarray(payload.get("pred", []), dtype=np.float64).reshape(-1, 5)
            gb.append(g)
            gc.append(np.full(len(g), ci, dtype=np.int64))
            pb.append(p[:, :4])
            ps.append(p[:, 4])
            pc.append(np.full(len(p), ci, dtype=np.int64))
        if not gb:
            return cls(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0),
                       np.zeros(0, np.int64))
        return cls(np.concatenate(gb), np.concatenate(gc), np.concatenate(pb), np.concatenate(ps),
                   np.concatenate(pc))


# --- matching and AP ----------------------------------------------------------------------------------


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU (len(a), len(b)) of xyxy boxes (torchvision/ultralytics formula, eps 1e-7)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + _IOU_EPS)


def match_image(pred_boxes: np.ndarray, pred_cls: np.ndarray, gt_boxes: np.ndarray,
                gt_cls: np.ndarray, iouv: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """TP flags (N, T) of predictions already sorted by descending score.

    Each prediction, in order, claims the unclaimed same-class ground-truth box of highest IoU;
    it is a TP at threshold t when that IoU >= t. Done independently per threshold.
    """
    n = len(pred_cls)
    correct = np.zeros((n, len(iouv)), dtype=bool)
    if n == 0 or len(gt_cls) == 0:
        return correct
    iou = box_iou(gt_boxes, pred_boxes) * (np.asarray(gt_cls)[:, None] == np.asarray(pred_cls)[None, :])
    matched = np.zeros((iou.shape[0], len(iouv)), dtype=bool)
    cols = np.arange(len(iouv))
    for j in np.flatnonzero((iou >= iouv.min()).any(0)):
        available = np.where(matched, 0.0, iou[:, j, None])
        k = available.argmax(0)
        correct[j] = available[k, cols] >= iouv
        matched[k, cols] |= correct[j]
    return correct


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """AP: precision envelope, sampled at 101 recall points, trapezoid integration."""
    mrec = np.concatenate(([0.0], recall, [recall[-1] if len(recall) else 1.0], [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0], [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    x = np.linspace(0, 1, 101)
    y = np.interp(x, mrec, mpre)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _smooth(y: np.ndarray, f: float = 0.05) -> np.ndarray:
    nf = round(len(y) * f * 2) // 2 + 1
    p = np.ones(nf // 2)
    yp = np.concatenate((p * y[0], y, p * y[-1]), 0)
    return np.convolve(yp, np.ones(nf) / nf, mode="valid")


@dataclass
class ClassResult:
    """Metrics of one class (or the overall mean, ``name == "all"``)."""

    name: str
    n_images: int
    n_gt: int
    n_pred: int  # predictions with score >= conf
    tp: int  # of those, TP at IoU 0.5
    P: float
    R: float
    mAP50: float  # noqa: N815
    mAP50_95: float  # noqa: N815
    P_f1: float
    R_f1: float
    ap: list[float] = field(default_factory=list)  # AP at the ten IoU thresholds


@dataclass
class DetectionResult:
    """Dataset-level detection metrics: per class and overall."""

    conf: float
    classes: list[ClassResult]
    overall: ClassResult
    conf_f1: float

    def rows(self, per_class: bool = True) -> list[dict[str, Any]]:
        """Flat dicts (overall first) for a DataFrame."""
        keep = ("name", "n_images", "n_gt", "n_pred", "tp", "P", "R", "mAP50", "mAP50_95",
                "P_f1", "R_f1")
        out = [{k: getattr(self.overall, k) for k in keep}]
        if per_class:
            out += [{k: getattr(c, k) for k in keep} for c in self.classes]
        return out


def evaluate(images: Sequence[ImageRecord], class_names: Sequence[str], conf: float = 0.25,
             iouv: np.ndarray = IOU_THRESHOLDS) -> DetectionResult:
    """P/R at ``conf``, mAP50 and mAP50-95 pooled over ``images``, per class and overall.

    Classes without ground truth in these images are reported with NaN AP/P/R and left out of
    the overall means (as ultralytics does). All predictions are used for AP, so detectors
    should be run at a low confidence (e.g. 0.001) and ``conf`` applies to P/R only.
    """
    tps, confs, pcls, tcls = [], [], [], []
    imgs_with = np.zeros(len(class_names), dtype=np.int64)
    for rec in images:
        order = np.argsort(-np.asarray(rec.pred_scores, dtype=np.float64), kind="stable")
        pb, ps, pc = rec.pred_boxes[order], rec.pred_scores[order], rec.pred_cls[order]
        tps.append(match_image(pb, pc, rec.gt_boxes, rec.gt_cls, iouv))
        confs.append(ps)
        pcls.append(pc)
        tcls.append(rec.gt_cls)
        for c in np.unique(rec.gt_cls):
            imgs_with[int(c)] += 1
    nt = len(iouv)
    tp = np.concatenate(tps) if tps else np.zeros((0, nt), bool)
    confv = np.concatenate(confs).astype(np.float64) if confs else np.zeros(0)
    pred_cls = np.concatenate(pcls) if pcls else np.zeros(0, np.int64)
    target_cls = np.concatenate(tcls) if tcls else np.zeros(0, np.int64)

    i = np.argsort(-confv)  # the order ultralytics' ap_per_class uses (ties: same numpy sort)
    tp, confv, pred_cls = tp[i], confv[i], pred_cls[i]
    x = np.linspace(0, 1, 1000)
    ncls = len(class_names)
    ap = np.full((ncls, nt), np.nan)
    p_curve, r_curve = np.zeros((ncls, 1000)), np.zeros((ncls, 1000))
    counts = np.bincount(target_cls.astype(np.int64), minlength=ncls) if len(target_cls) else (
        np.zeros(ncls, np.int64))
    has_gt = counts > 0
    results = []
    for c in range(ncls):
        m = pred_cls == c
        n_l = int(counts[c])
        above = m & (confv >= conf)
        n_p_conf = int(above.sum())
        tp_conf = int(tp[above, 0].sum())
        if n_l == 0:
            results.append((n_p_conf, tp_conf, np.nan, np.nan))
            continue
        ap[c] = 0.0
        if m.sum():
            fpc = (1 - tp[m]).cumsum(0)
            tpc = tp[m].cumsum(0)
            recall = tpc / (n_l + _EPS)
            precision = tpc / (tpc + fpc)
            r_curve[c] = np.interp(-x, -confv[m], recall[:, 0], left=0)
            p_curve[c] = np.interp(-x, -confv[m], precision[:, 0], left=1)
            for j in range(nt):
                ap[c, j] = average_precision(recall[:, j], precision[:, j])
        results.append((n_p_conf, tp_conf, tp_conf / n_p_conf if n_p_conf else 0.0, tp_conf / n_l))

    f1_curve = 2 * p_curve * r_curve / (p_curve + r_curve + _EPS)
    idx = np.flatnonzero(has_gt)
    k = int(_smooth(f1_curve[idx].mean(0), 0.1).argmax()) if len(idx) else 0
    classes = []
    for c, name in enumerate(class_names):
        n_p_conf, tp_conf, p, r = results[c]
        gt = bool(has_gt[c])
        classes.append(ClassResult(
            name=name, n_images=int(imgs_with[c]), n_gt=int(counts[c]), n_pred=n_p_conf,
            tp=tp_conf, P=p, R=r,
            mAP50=float(ap[c, 0]) if gt else np.nan,
            mAP50_95=float(ap[c].mean()) if gt else np.nan,
            P_f1=float(p_curve[c, k]) if gt else np.nan,
            R_f1=float(r_curve[c, k]) if gt else np.nan,
            ap=ap[c].tolist()))
    sel = [classes[c] for c in idx]

    def mean(attr: str) -> float:
        return float(np.mean([getattr(c, attr) for c in sel])) if sel else np.nan

    overall = ClassResult(
        name="all", n_images=len(images), n_gt=int(counts.sum()),
        n_pred=sum(c.n_pred for c in classes), tp=sum(c.tp for c in classes),
        P=mean("P"), R=mean("R"), mAP50=mean("mAP50"), mAP50_95=mean("mAP50_95"),
        P_f1=mean("P_f1"), R_f1=mean("R_f1"),
        ap=np.nanmean(ap[idx], axis=0).tolist() if len(idx) else [np.nan] * nt)
    return DetectionResult(conf=conf, classes=classes, overall=overall, conf_f1=float(x[k]))
