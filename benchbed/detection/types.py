"""What a detector returns: :class:`Detections` (the Protocol is ``benchbed.types.Detector``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchbed.errors import PluginOutputError


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
