"""Detection scoring: labels, class maps, protocols, and P/R/mAP over a dataset (one implementation).

A detector plugin (``benchbed_register_detectors``) builds an object with
``detect(image) -> Detections``: boxes in pixels (x1, y1, x2, y2) of the image it was given,
scores, and detector class ids with the detector's class names. This module turns those boxes
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

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from benchbed.errors import BenchbedError, DataError, PluginOutputError
from benchbed.types import Image

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
"""The ten IoU thresholds of mAP@0.5:0.95."""
PROTOCOLS = ("labels", "clean-reference")
_EPS = 1e-16  # ultralytics ap_per_class eps
_IOU_EPS = 1e-7  # ultralytics / torchvision box_iou eps


# --- what a detector returns ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes of one image: xyxy pixels (N, 4), scores (N,), detector class ids (N,), class names."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        classes = np.asarray(self.classes).reshape(-1).astype(np.int64)
        if not (len(boxes) == len(scores) == len(classes)):
            raise PluginOutputError(
                f"detector returned {len(boxes)} boxes, {len(scores)} scores, {len(classes)} classes",
                fix="return one score and one class per box",
            )
        if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
            raise PluginOutputError("detector returned non-finite boxes or scores",
                                    fix="check the detector plugin on this input")
        if len(classes) and (classes.min() < 0 or classes.max() >= len(self.names)):
            raise PluginOutputError(
                f"detector returned class ids outside 0..{len(self.names) - 1}",
                fix="return ids that index the detector's class names",
            )
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly dict (the detection cache format)."""
        return {"boxes": self.boxes.tolist(), "scores": self.scores.tolist(),
                "classes": self.classes.tolist(), "names": list(self.names)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Detections:
        """Inverse of ``to_json``."""
        return cls(np.asarray(data["boxes"], dtype=np.float64).reshape(-1, 4),
                   np.asarray(data["scores"], dtype=np.float64), np.asarray(data["classes"]),
                   tuple(data["names"]))


@runtime_checkable
class Detector(Protocol):
    """Built by a DetectorSpec factory."""

    def detect(self, image: Image) -> Detections:
        """Boxes for one image (float32 HxW or HxWx3 RGB in [0, 1]); coordinates in its pixels."""


# --- labels and class maps --------------------------------------------------------------------------


def read_yolo_labels(source: Any, width: int, height: int, n_classes: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """YOLO txt (``class cx cy w h`` normalised) -> (xyxy pixel boxes (M, 4), class ids (M,)).

    ``source`` is a path or an array of rows. Malformed lines raise DataError naming file:line.
    """
    rows: list[tuple[int, float, float, float, float]] = []
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"label file not found: {path}",
                            fix="check the dataset's labels folder (YOLO txt per pair)")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            try:
                if len(parts) != 5:
                    raise ValueError(f"{len(parts)} fields")
                c = int(parts[0])
                vals = [float(p) for p in parts[1:]]
            except ValueError as exc:
                raise DataError(f"{path}:{n}: not a YOLO label line ({exc}): {line.strip()!r}",
                                fix="write `class cx cy w h` with coordinates normalised to [0, 1]"
                                ) from exc
            rows.append((c, *vals))  # type: ignore[arg-type]
        where = str(path)
    else:
        arr = np.asarray(source, dtype=np.float64).reshape(-1, 5)
        rows = [(int(r[0]), *map(float, r[1:])) for r in arr]  # type: ignore[misc]
        where = "labels"
    if not rows:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    arr = np.asarray([r[1:] for r in rows], dtype=np.float64)
    cls = np.asarray([r[0] for r in rows], dtype=np.int64)
    if not np.isfinite(arr).all() or (arr < -1e-6).any() or (arr > 1 + 1e-6).any():
        raise DataError(f"{where}: label coordinates must be normalised to [0, 1]",
                        fix="convert pixel boxes to YOLO `cx cy w h` divided by the image size")
    if (cls < 0).any() or (n_classes is not None and (cls >= n_classes).any()):
        raise DataError(f"{where}: class id outside 0..{(n_classes or 1) - 1}",
                        fix="check classes.txt (line i = class id i) against the label files")
    cx, cy, w, h = arr.T
    boxes = np.stack([(cx - w / 2) * width, (cy - h / 2) * height,
                      (cx + w / 2) * width, (cy + h / 2) * height], axis=1)
    return boxes, cls


def read_class_names(labels_path: str | Path) -> list[str]:
    """Class names (line i = class id i) from ``classes.txt`` in the labels folder or above it."""
    p = Path(labels_path)
    folder = p.parent if p.suffix else p
    for cand in (folder / "classes.txt", folder.parent / "classes.txt"):
        if cand.is_file():
            names = [ln.strip() for ln in cand.read_text(encoding="utf-8").splitlines()]
            return [n for n in names if n and not n.startswith("#")]
    raise DataError(
        f"no classes.txt next to the labels {p} (looked in {folder} and {folder.parent})",
        fix="add classes.txt (one class name per line, line i = class id i) or give "
        "`detection: {classes: [...]}` in the suite",
    )


def resolve_class_map(dataset_classes: Sequence[str], detector_names: Sequence[str],
                      class_map: Mapping[str, Any] | None = None, *, detector: str = "detector",
                      dataset: str = "dataset") -> dict[int, int]:
    """Detector class id -> dataset class id.

    ``class_map`` maps a dataset class name to a detector class name or id, or a list of them
    (several detector classes may count as one dataset class); a dataset class it does not
    name maps to the detector class of the same name. Detector classes that map to no dataset
    class are dropped before scoring (as when validating a COCO model on a 3-class dataset).
    Every problem raises DataError naming the class and the fix.
    """
    class_map = dict(class_map or {})
    det_index = {n: i for i, n in enumerate(detector_names)}
    out: dict[int, int] = {}
    for ds_id, ds_name in enumerate(dataset_classes):
        targets = class_map.get(ds_name, ds_name)
        if not isinstance(targets, (list, tuple)):
            targets = [targets]
        if not targets:
            raise DataError(f"class_map maps dataset class {ds_name!r} to nothing",
                            fix="give at least one detector class name or id")
        for t in targets:
            if isinstance(t, bool) or not isinstance(t, (int, str)):
                raise DataError(f"class_map[{ds_name!r}]: {t!r} is neither a class name nor an id",
                                fix="use detector class names (e.g. person) or integer ids")
            if isinstance(t, int):
                if not 0 <= t < len(detector_names):
                    raise DataError(
                        f"class_map[{ds_name!r}]: detector {detector!r} has no class id {t} "
                        f"(it has 0..{len(detector_names) - 1})",
                        fix=f"use an id below {len(detector_names)} or a class name")
                det_id = t
            elif t in det_index:
                det_id = det_index[t]
            else:
                close = difflib.get_close_matches(t, list(detector_names), n=3, cutoff=0.5)
                hint = ("did you mean " + " or ".join(map(repr, close)) + "?") if close else (
                    f"use one of the detector's classes (`benchbed info {detector}`)")
                if ds_name in class_map:
                    msg = f"class_map[{ds_name!r}]: {t!r} is not a class of detector {detector!r}"
                else:
                    msg = (f"dataset {dataset!r} class {ds_name!r} is not a class of detector "
                           f"{detector!r} and the suite's class_map does not map it")
                    hint = f"add `class_map: {{{ds_name}: <detector class>}}` to `detection:`; {hint}"
                raise DataError(msg, fix=hint)
            if det_id in out and out[det_id] != ds_id:
                raise DataError(
                    f"class_map maps detector class {detector_names[det_id]!r} to two dataset "
                    f"classes ({dataset_classes[out[det_id]]!r} and {ds_name!r})",
                    fix="map each detector class to at most one dataset class")
            out[det_id] = ds_id
    return out


def check_class_map_keys(class_map: Mapping[str, Any], all_dataset_classes: Iterable[str]) -> None:
    """A class_map key that no dataset of the suite has is almost surely a typo: say so."""
    known = sorted(set(all_dataset_classes))
    for key in class_map:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            raise DataError(
                f"class_map names {key!r}, which is not a class of any dataset of the suite "
                f"(classes: {', '.join(known) or 'none'})",
                fix=("did you mean " + " or ".join(map(repr, close)) + "?") if close
                else "class_map keys are dataset class names (classes.txt); values are the "
                "detector's classes")


def map_detections(dets: Detections, id_map: Mapping[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep mapped classes only: (boxes, scores, dataset class ids), in the detector's order."""
    keep = np.array([int(c) in id_map for c in dets.classes], dtype=bool)
    cls = np.array([id_map[int(c)] for c in dets.classes[keep]], dtype=np.int64)
    return dets.boxes[keep], dets.scores[keep], cls


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


# --- suite configuration ---------------------------------------------------------------------------


def config_key(config: Mapping[str, Any]) -> str:
    """Hash of what changes the stored rows (not ``conf``, which applies at query time)."""
    from benchbed.imaging import content_hash

    keep = {k: config.get(k) for k in ("detector", "protocol", "reference", "reference_conf",
                                        "classes", "class_map", "labels")}
    return content_hash(json.dumps(keep, sort_keys=True, default=str))[:16]


def detector_label(detector: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """``name`` or ``name[k=v,...]`` with the parameters that differ from the plugin's defaults."""
    changed = {k: v for k, v in detector["params"].items() if defaults.get(k) != v and k != "device"}
    if not changed:
        return str(detector["name"])
    return detector["name"] + "[" + ",".join(f"{k}={changed[k]}" for k in sorted(changed)) + "]"


def protocol_label(config: Mapping[str, Any]) -> str:
    """``labels`` or ``clean-reference:<reference>`` (the store's ``protocol`` column)."""
    if config["protocol"] == "labels":
        return "labels"
    return f"clean-reference:{config['reference']['label']}"



# --- store queries (the leaderboard's detection table) ---------------------------------------------


STORE_KEYS = ["dataset", "degradation", "severity", "method", "detector", "protocol"]


def detections_frame(sessions: Any, suite: str, board: Any = None) -> Any:
    """One row per stored detection row (item x class, plus each item's ``*`` summary row) of the
    suite's board (``benchbed.leaderboard.Board``; default its newest plan), done items only."""
    import pandas as pd
    from sqlalchemy import select

    from benchbed.leaderboard import select_board
    from benchbed.store.models import Detection, Item

    board = board if board is not None else select_board(sessions, suite)
    with sessions() as s:
        rows = s.execute(
            select(Item.dataset, Item.pair_id, Item.degradation, Item.severity, Item.method,
                   Detection.detector, Detection.protocol, Detection.class_name, Detection.payload)
            .join(Detection, Detection.item_id == Item.id)
            .where(Item.id.in_(board.item_ids()), Item.status == "done")
        ).all()
    return pd.DataFrame(rows, columns=["dataset", "pair_id", "degradation", "severity", "method",
                                       "detector", "protocol", "class_name", "payload"])


def detection_table(frame: Any, conf: float | None = None, per_class: bool = False,
                    config: str | None = None) -> Any:
    """P/R at the declared confidence, mAP50 and mAP50-95 per (dataset, degradation, severity,
    method, detector, protocol), pooled over the pairs (not averaged per image), ranked by mAP50
    within each condition.

    ``conf`` overrides the confidence the suite declared for P/R (AP always uses every stored
    box). ``config`` keeps only items whose detections were made under that config key.
    """
    import pandas as pd

    if frame.empty:
        raise BenchbedError("no detections match the filters",
                            fix="run a suite with `detection:` (e.g. suites/detection-msrs.yaml)")
    out = []
    for key, g in frame.groupby(STORE_KEYS, sort=True):
        summaries = {r.pair_id: r.payload for r in g[g.class_name == "*"].itertuples()}
        if config is not None:
            summaries = {k: v for k, v in summaries.items() if v.get("config") == config}
        if not summaries:
            continue
        first = summaries[min(summaries)]
        classes = list(first["classes"])
        level = float(conf if conf is not None else first.get("conf", 0.25))
        records = []
        for pair_id, sub in sorted(g[g.class_name != "*"].groupby("pair_id")):
            if pair_id in summaries:
                records.append(ImageRecord.from_rows(
                    {r.class_name: r.payload for r in sub.itertuples()}, classes))
        res = evaluate(records, classes, conf=level)
        for r in res.rows(per_class=per_class):
            out.append({**dict(zip(STORE_KEYS, key)), "class": r["name"], "conf": level,
                        "n": r["n_images"], "n_gt": r["n_gt"], "P": r["P"], "R": r["R"],
                        "mAP50": r["mAP50"], "mAP50-95": r["mAP50_95"]})
    table = pd.DataFrame(out)
    if table.empty:
        raise BenchbedError("no detections of the suite's current detection config in the store",
                            fix="re-run the suite (missing detections are computed on resume)")
    cond = ["dataset", "degradation", "severity", "detector", "protocol", "class"]
    rank = table.groupby(cond)["mAP50"].rank(ascending=False, method="min")
    table.insert(4, "rank", rank.fillna(0).astype(int))
    table = table.sort_values(["dataset", "degradation", "severity", "class", "rank", "method"])
    table = table.reset_index(drop=True)
    return table if per_class else table.drop(columns=["class"])


def detection_matrix(table: Any, value: str = "mAP50") -> Any:
    """``value`` as a method x (dataset degradation@severity) matrix (overall rows only)."""
    t = table[table["class"] == "all"] if "class" in table.columns else table
    t = t.assign(condition=t["dataset"] + " " + t["degradation"] + "@" + t["severity"].astype(str))
    return t.pivot_table(index="method", columns="condition", values=value, aggfunc="first")
