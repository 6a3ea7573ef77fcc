"""Ground truth: YOLO label files, dataset class names and the class map to a detector's classes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.detection.types import Detections
from benchbed.errors import DataError, did_you_mean


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
                hint = did_you_mean(t, detector_names) or (
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
            raise DataError(
                f"class_map names {key!r}, which is not a class of any dataset of the suite "
                f"(classes: {', '.join(known) or 'none'})",
                fix=did_you_mean(key, known)
                or "class_map keys are dataset class names (classes.txt); values are the "
                "detector's classes")


def map_detections(dets: Detections, id_map: Mapping[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep mapped classes only: (boxes, scores, dataset class ids), in the detector's order."""
    keep = np.array([int(c) in id_map for c in dets.classes], dtype=bool)
    cls = np.array([id_map[int(c)] for c in dets.classes[keep]], dtype=np.int64)
    return dets.boxes[keep], dets.scores[keep], cls
