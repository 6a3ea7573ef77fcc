"""The yolo detector plugin: lazy imports, weights verification, offline running, real recall."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data, shared_weights

from benchbed.errors import WeightsError
from benchbed.registry import get_registry

_ROOT = shared_weights("detector/yolov8n_int8.onnx")
WEIGHTS = str(_ROOT) if _ROOT else None


def _has_ultralytics() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("ultralytics", "onnxruntime"))


needs_yolo = pytest.mark.skipif(WEIGHTS is None or not _has_ultralytics(),
                                reason="needs shared/weights/detector and benchbed[yolo]")


def test_registered_with_coco_classes() -> None:
    spec = get_registry().get("detector", "yolo")
    assert spec.classes[:3] == ("person", "bicycle", "car") and len(spec.classes) == 80
    assert spec.weights[0].path == "detector/yolov8n_int8.onnx"
    assert spec.params["conf"] == 0.001  # AP needs the whole PR curve


def test_import_needs_neither_ultralytics_nor_onnxruntime() -> None:
    code = ("import sys, benchbed_yolo; from benchbed.registry import Registry; Registry(); "
            "print(sorted(m for m in ('ultralytics', 'onnxruntime', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_weights_are_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchbed_yolo.detector import YoloDetector

    f = tmp_path / "mine.onnx"
    f.write_bytes(b"not really a model")
    import hashlib

    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    with pytest.raises(WeightsError, match=rf"without a sha256 \(fix: add `sha256: {sha}`"):
        YoloDetector(weights=str(f), sha256="")
    with pytest.raises(WeightsError, match="checksum mismatch"):
        YoloDetector(weights=str(f), sha256="0" * 64)
    with pytest.raises(WeightsError, match=r"must be a \.pt or \.onnx"):
        YoloDetector(weights=str(tmp_path / "model.tflite"), sha256=sha)
    monkeypatch.delenv("BENCHBED_WEIGHTS", raising=False)
    with pytest.raises(WeightsError, match="need BENCHBED_WEIGHTS"):
        YoloDetector()
    monkeypatch.chdir(tmp_path)  # a relative user path resolves against the working directory
    det = YoloDetector(weights="mine.onnx", sha256=sha)
    assert det.path == f
    if _has_ultralytics():
        with pytest.raises(WeightsError, match="ultralytics cannot load"):
            _ = det.names


OFFLINE = r"""
import json, os, socket, sys
calls = []
def refuse(name):
    def f(*a, **k):
        calls.append(name)
        raise OSError(f"network disabled in this test ({name})")
    return f
socket.socket.connect = refuse("connect")
socket.socket.connect_ex = refuse("connect_ex")
socket.getaddrinfo = refuse("getaddrinfo")
socket.create_connection = refuse("create_connection")
import urllib.request
urllib.request.urlopen = refuse("urlopen")

from benchbed.registry import get_registry
from benchbed.imaging import read_image
det = get_registry().get("detector", "yolo").build()
d = det.detect(read_image(sys.argv[1]))
names = [d.names[c] for c, s in zip(d.classes, d.scores) if s >= 0.25]
print(json.dumps({"calls": calls, "names": names, "n": len(d.scores),
                  "config": os.environ.get("YOLO_CONFIG_DIR")}))
"""


@pytest.mark.slow
@needs_yolo
def test_runs_offline_and_writes_nothing_to_home_or_cwd(tmp_path: Path) -> None:
    data = shared_data()
    if data is None:
        pytest.skip("needs shared/datasets")
    image = data / "detection" / "llvip" / "images_vi" / "190001.png"
    home, cwd, tmp = tmp_path / "home", tmp_path / "cwd", tmp_path / "tmp"
    for p in (home, cwd, tmp):
        p.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "BENCHBED_ULTRA"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), BENCHBED_WEIGHTS=WEIGHTS, XDG_CONFIG_HOME="")
    script = tmp_path / "offline.py"
    script.write_text(OFFLINE)
    cmd = [sys.executable, str(script), str(image)]
    trace = tmp_path / "connect.txt"
    strace = shutil.which("strace")
    if strace and subprocess.run([strace, "-o", os.devnull, "true"], capture_output=True).returncode == 0:
        # native code (onnxruntime's telemetry client) would not go through Python's socket
        cmd = [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *cmd]
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["calls"] == []  # not one network attempt (ultralytics checks DNS when online)
    if trace.exists():
        inet = [ln for ln in trace.read_text().splitlines() if "AF_INET" in ln]
        assert inet == [], inet
    assert res["n"] > 0 and "person" in res["names"]
    assert res["config"].startswith(str(tmp))  # settings in a private temp folder
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []  # no runs/, no settings

    # control: the guard does see ultralytics' own online check when nobody switches it off
    control = OFFLINE.split("from benchbed.registry")[0] + (
        "import ultralytics\nprint(json.dumps({'calls': calls}))\n")
    script.write_text(control)
    env["YOLO_CONFIG_DIR"] = str(tmp / "control")
    out = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=300)
    assert "getaddrinfo" in json.loads(out.stdout.strip().splitlines()[-1])["calls"], out.stderr[-2000:]


@needs_yolo
@pytest.mark.shared
@pytest.mark.slow
def test_recall_matches_the_manifest_on_llvip(monkeypatch: pytest.MonkeyPatch) -> None:
    """The staging session's verified figure: recall@IoU0.5 at conf 0.25 = 10/13 on LLVIP's six
    labelled pairs, visible and IR alike (shared/weights/MANIFEST.md)."""
    from benchbed.detection import (
        ImageRecord,
        evaluate,
        map_detections,
        read_class_names,
        read_yolo_labels,
        resolve_class_map,
    )
    from benchbed.imaging import read_image

    data = shared_data()
    if data is None:
        pytest.skip("needs shared/datasets")
    monkeypatch.setenv("BENCHBED_WEIGHTS", WEIGHTS)
    root = data / "detection" / "llvip"
    det = get_registry().get("detector", "yolo").build()
    classes = read_class_names(root / "labels")
    ids = sorted(p.stem for p in (root / "labels").glob("*.txt"))
    assert len(ids) == 6
    for view in ("vi", "ir"):
        records = []
        for i in ids:
            img = read_image(root / f"images_{view}" / f"{i}.png")
            d = det.detect(img)
            pb, ps, pc = map_detections(d, resolve_class_map(classes, d.names))
            gb, gc = read_yolo_labels(root / "labels" / f"{i}.txt", img.shape[1], img.shape[0])
            records.append(ImageRecord(gb, gc, pb, ps, pc))
        res = evaluate(records, classes, conf=0.25)
        assert (res.overall.tp, res.overall.n_gt) == (10, 13), view
        assert 0.7 < res.overall.mAP50 < 0.9
        assert np.isfinite(res.overall.mAP50_95)
