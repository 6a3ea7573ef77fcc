"""The ultralytics YOLO wrapper: offline set-up, weights verification, boxes for one image."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchbed.detection import Detections
from benchbed.errors import BenchbedError, WeightsError
from benchbed.imaging import to_uint8
from benchbed.types import Image, WeightsRef
from benchbed.weights import file_sha256, resolve_weights

DEFAULT_WEIGHTS = "detector/yolov8n_int8.onnx"
DEFAULT_SHA256 = "83de8f0d2cd521e00ae2b138c340a03dece35b060b3898509bdc69afff417312"
SUFFIXES = (".pt", ".onnx")

COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)
"""The 80 COCO class names in YOLO id order (id i = COCO category as YOLO numbers it)."""


def ultralytics_home() -> Path:
    """Private folder for ultralytics' settings and runs: BENCHBED_ULTRALYTICS_DIR or a temp dir."""
    env = os.environ.get("BENCHBED_ULTRALYTICS_DIR")
    if env:
        return Path(env).expanduser()
    uid = getattr(os, "getuid", lambda: "user")()
    return Path(tempfile.gettempdir()) / f"benchbed-ultralytics-{uid}"


def import_ultralytics() -> Any:
    """Import ultralytics offline: no hub, no telemetry (ultralytics' or onnxruntime's), no
    autoinstall, settings and runs out of the user's home and working tree.

    The environment is set before the first import (ultralytics reads it at import time); if
    ultralytics was already imported by someone else its online flags are switched off anyway.
    """
    home = ultralytics_home()
    os.environ["YOLO_OFFLINE"] = "1"
    # onnxruntime (>= 1.2x on Linux) keeps a telemetry device id in ~/.cache and may upload
    # events; off unless the user set the variable themselves
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(home / "config"))
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    try:
        import ultralytics
        import ultralytics.utils as uu
    except ImportError as exc:
        raise BenchbedError(
            f"the yolo detector needs ultralytics and onnxruntime ({exc})",
            fix="pip install 'benchbed[yolo]' (ultralytics>=8.3, onnxruntime>=1.17)",
        ) from exc
    import importlib

    for name in ("ultralytics.utils", "ultralytics.utils.checks", "ultralytics.utils.events",
                 "ultralytics.hub.utils"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "ONLINE"):
            mod.ONLINE = False
    wanted = {"runs_dir": str(home / "runs"), "weights_dir": str(home / "weights"),
              "datasets_dir": str(home / "datasets"), "sync": False, "hub": False,
              "clearml": False, "comet": False, "dvc": False, "mlflow": False, "neptune": False,
              "raytune": False, "tensorboard": False, "wandb": False}
    settings = uu.SETTINGS
    change = {k: v for k, v in wanted.items() if k in settings and settings.get(k) != v}
    if change:
        settings.update(**change)
    for attr, key in (("RUNS_DIR", "runs_dir"), ("WEIGHTS_DIR", "weights_dir"),
                      ("DATASETS_DIR", "datasets_dir")):
        if hasattr(uu, attr):
            setattr(uu, attr, Path(wanted[key]))
    return ultralytics


def resolve_detector_weights(weights: str, sha256: str | None) -> Path:
    """A verified .pt/.onnx path: relative paths under BENCHBED_WEIGHTS (else the working dir)."""
    p = Path(str(weights)).expanduser()
    if p.suffix.lower() not in SUFFIXES:
        raise WeightsError(f"yolo weights must be a .pt or .onnx file, got {weights}",
                           fix="export the model with ultralytics to .onnx, or give its .pt")
    if not sha256:
        cand = [p] if p.is_absolute() else [c for c in (_under_root(p), p) if c is not None]
        found = next((c for c in cand if c.is_file()), None)
        if found is None:
            raise WeightsError(f"weights file not found: {weights}",
                               fix="give an existing path (absolute, or under BENCHBED_WEIGHTS)")
        raise WeightsError(
            f"yolo weights {found} were given without a sha256",
            fix=f"add `sha256: {file_sha256(found)}` to the detector params once you have "
            "checked that this is the file you mean",
        )
    try:
        return resolve_weights(WeightsRef(str(weights), sha256))
    except WeightsError:
        if not p.is_absolute() and p.is_file():  # a user path relative to the working directory
            return resolve_weights(WeightsRef(str(p.resolve()), sha256))
        raise


def _under_root(p: Path) -> Path | None:
    from benchbed.paths import weights_root

    root = weights_root()
    return root / p if root is not None else None


def _device(device: str) -> str:
    d = str(device or "cpu").lower()
    if d.startswith("cuda"):
        return d.split(":", 1)[1] if ":" in d else "0"
    return d


class YoloDetector:
    """``detect(image) -> Detections`` with an ultralytics YOLO model (loaded on first use)."""

    def __init__(self, weights: str = DEFAULT_WEIGHTS, sha256: str | None = DEFAULT_SHA256,
                 conf: float = 0.001, iou: float = 0.7, imgsz: int = 640, max_det: int = 300,
                 device: str = "cpu") -> None:
        self.path = resolve_detector_weights(weights, sha256)
        self.conf, self.iou, self.imgsz, self.max_det = float(conf), float(iou), int(imgsz), int(max_det)
        self.device = _device(device)
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The ultralytics YOLO model."""
        if self._model is None:
            import_ultralytics()
            from ultralytics import YOLO

            try:
                model = YOLO(str(self.path), task="detect")
                _ = model.names  # loads the backend now, so a bad file fails here, clearly
                self._model = model
            except Exception as exc:
                raise WeightsError(f"ultralytics cannot load {self.path}: {type(exc).__name__}: {exc}",
                                   fix="give a YOLO detection model (.pt or ultralytics .onnx export)"
                                   ) from exc
        return self._model

    @property
    def names(self) -> tuple[str, ...]:
        """Class names by id, as the model declares them."""
        names = self.model.names
        if isinstance(names, dict):
            return tuple(str(names[i]) for i in sorted(names))
        return tuple(str(n) for n in names)

    def detect(self, image: Image) -> Detections:
        """Boxes in ``image`` pixels, scores, class ids; gray images are given as 3 equal channels."""
        u8 = to_uint8(image)
        if u8.ndim == 2:
            u8 = np.repeat(u8[..., None], 3, axis=2)
        bgr = np.ascontiguousarray(u8[..., ::-1])  # ultralytics takes numpy images as BGR
        res = self.model.predict(
            bgr, conf=self.conf, iou=self.iou, imgsz=self.imgsz, max_det=self.max_det,
            device=self.device, verbose=False, save=False, project=str(ultralytics_home() / "runs"),
        )[0]
        b = res.boxes
        return Detections(
            boxes=b.xyxy.cpu().numpy().astype(np.float64),
            scores=b.conf.cpu().numpy().astype(np.float64),
            classes=b.cls.cpu().numpy().astype(np.int64),
            names=self.names,
        )
