"""Detection: what detectors return, ground truth and class maps, P/R/mAP, the `detection:`
config and the worker step. The store query and board tables are in ``benchbed.leaderboard``.

Modules: ``types`` (Detections; the Detector Protocol is ``benchbed.types.Detector``),
``labels`` (YOLO labels, class maps), ``ap`` (matching and AP maths, agreeing with ultralytics'
validator), ``config`` (the suite section), ``worker`` (detections of one item, the pre-run
check).
"""

from __future__ import annotations

from benchbed.detection.ap import (
    IOU_THRESHOLDS,
    ClassResult,
    DetectionResult,
    ImageRecord,
    average_precision,
    box_iou,
    evaluate,
    item_rows,
    match_image,
)
from benchbed.detection.labels import (
    check_class_map_keys,
    map_detections,
    read_class_names,
    read_yolo_labels,
    resolve_class_map,
)
from benchbed.detection.types import Detections
from benchbed.types import Detector

__all__ = [
    "IOU_THRESHOLDS",
    "ClassResult",
    "DetectionResult",
    "Detections",
    "Detector",
    "ImageRecord",
    "average_precision",
    "box_iou",
    "check_class_map_keys",
    "evaluate",
    "item_rows",
    "map_detections",
    "match_image",
    "read_class_names",
    "read_yolo_labels",
    "resolve_class_map",
]
