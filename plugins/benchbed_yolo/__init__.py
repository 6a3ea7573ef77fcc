"""YOLO detector plugin: ultralytics YOLO (.onnx or .pt weights), offline, sha256-verified weights.

Registers the detector ``yolo``: by default the COCO-80 YOLOv8n int8 ONNX export looked up as
``detector/yolov8n_int8.onnx`` under BENCHBED_WEIGHTS (see shared/weights/MANIFEST.md). Any
other ``.pt`` or ``.onnx`` file works through the ``weights`` and ``sha256`` parameters::

    detection:
      detector: {name: yolo, params: {weights: /models/best.pt, sha256: 3f2a...}}

ultralytics and onnxruntime are imported on first use only (extra ``benchbed[yolo]``), with
``YOLO_OFFLINE=1``, autoinstall and telemetry off (ultralytics' and onnxruntime's:
``ORT_DISABLE_TELEMETRY=1``), and the ultralytics settings/runs folders in
a private temporary folder (never the user's home or the working tree), so nothing is
downloaded at run time. Importing this package needs neither.
"""

from __future__ import annotations

from benchbed import DetectorSpec, WeightsRef, hookimpl

from .detector import COCO80, DEFAULT_SHA256, DEFAULT_WEIGHTS, YoloDetector

__all__ = ["COCO80", "YoloDetector", "benchbed_register_detectors"]

_CITATION = (
    "Jocher, Chaurasia, Qiu: Ultralytics YOLOv8 (2023), https://github.com/ultralytics/ultralytics; "
    "COCO classes: Lin et al., Microsoft COCO: Common Objects in Context, ECCV 2014"
)


@hookimpl
def benchbed_register_detectors() -> list[DetectorSpec]:
    """The ultralytics YOLO detector."""
    return [
        DetectorSpec(
            name="yolo",
            version="1",
            summary="Ultralytics YOLO (default: YOLOv8n COCO-80 int8 ONNX, CPU); boxes at conf >= "
            "`conf` (0.001 so that mAP sees the whole PR curve), NMS IoU `iou`, letterbox `imgsz`",
            factory=YoloDetector,
            params={"weights": DEFAULT_WEIGHTS, "sha256": DEFAULT_SHA256, "conf": 0.001,
                    "iou": 0.7, "imgsz": 640, "max_det": 300, "device": "cpu"},
            modalities=("ir", "vi"),
            weights=(WeightsRef(DEFAULT_WEIGHTS, DEFAULT_SHA256),),
            citation=_CITATION,
            classes=COCO80,
        )
    ]
