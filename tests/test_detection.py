"""Detection metrics on hand-worked toy cases; labels and class-map errors.

AP here is ultralytics' (and so `yolo val`'s) AP: precision envelope sampled at 101 recall
points and integrated with the trapezoid rule, the envelope dropping to 0 after the last
recall reached. Worked values used below (np.interp takes the right-hand value at a jump):

- one GT, one exact detection: samples are 1 for recall 0..0.99 and 0 at recall 1, so
  AP = 0.99 * 1 + 0.01 * (1 + 0) / 2 = 0.995 (the familiar "perfect = 0.995" of YOLO);
- recall 0.5 at precision 1 and nothing more: 0.49 + 0.01 * (1 + 0) / 2 = 0.495;
- two GT, detections TP (0.9), FP (0.8), TP (0.7): envelope 1 up to recall 0.5, then 2/3 up
  to recall 1: 0.49 + 0.01 * (1 + 2/3) / 2 + 0.49 * 2/3 + 0.01 * (2/3 + 0) / 2 = 0.828333...
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchbed.detection import (
    Detections,
    ImageRecord,
    average_precision,
    box_iou,
    check_class_map_keys,
    evaluate,
    item_rows,
    map_detections,
    match_image,
    read_class_names,
    read_yolo_labels,
    resolve_class_map,
)
from benchbed.errors import DataError, PluginOutputError

PERFECT = 0.995
HALF = 0.495
TP_FP_TP = 0.49 + 0.01 * (1 + 2 / 3) / 2 + 0.49 * 2 / 3 + 0.01 * (2 / 3) / 2


def rec(gt, gt_cls, pred, pred_cls) -> ImageRecord:
    """Boxes as lists: gt [[x1,y1,x2,y2]], pred [[x1,y1,x2,y2,score]]."""
    g = np.asarray(gt, dtype=float).reshape(-1, 4)
    p = np.asarray(pred, dtype=float).reshape(-1, 5)
    return ImageRecord(g, np.asarray(gt_cls, dtype=np.int64), p[:, :4], p[:, 4],
                       np.asarray(pred_cls, dtype=np.int64))


BOX = [10, 10, 50, 50]
BOX2 = [100, 100, 140, 160]


def test_box_iou_by_hand() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    assert box_iou(a, b)[0] == pytest.approx([50 / 150, 1.0, 0.0], abs=1e-8)


def test_average_precision_worked_values() -> None:
    assert average_precision(np.array([1.0]), np.array([1.0])) == pytest.approx(PERFECT)
    assert average_precision(np.array([0.5]), np.array([1.0])) == pytest.approx(HALF)
    assert average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == \
        pytest.approx(TP_FP_TP)


def test_perfect_detection() -> None:
    res = evaluate([rec([BOX], [0], [[*BOX, 0.9]], [0])], ["person"], conf=0.25)
    o = res.overall
    assert (o.P, o.R, o.mAP50, o.mAP50_95) == pytest.approx((1.0, 1.0, PERFECT, PERFECT))
    assert (o.n_gt, o.n_pred, o.tp) == (1, 1, 1)


def test_tp_fp_tp_and_precision_recall_at_conf() -> None:
    images = [rec([BOX, BOX2], [0, 0],
                  [[*BOX, 0.9], [200, 200, 240, 240, 0.8], [*BOX2, 0.7]], [0, 0, 0])]
    res = evaluate(images, ["person"], conf=0.75)
    assert res.overall.mAP50 == pytest.approx(TP_FP_TP)
    assert (res.overall.P, res.overall.R) == pytest.approx((0.5, 0.5))  # .9 TP, .8 FP
    res = evaluate(images, ["person"], conf=0.5)
    assert (res.overall.P, res.overall.R) == pytest.approx((2 / 3, 1.0))
    res = evaluate(images, ["person"], conf=0.95)  # nothing that confident: P 0, R 0
    assert (res.overall.P, res.overall.R, res.overall.n_pred) == (0.0, 0.0, 0)
    assert res.overall.mAP50 == pytest.approx(TP_FP_TP)  # AP does not depend on conf


def test_pooled_over_the_dataset_not_per_image() -> None:
    # image A: found; image B: missed. Per-image mean AP would be (0.995 + 0) / 2 = 0.4975;
    # pooled: recall 0.5 at precision 1 -> 0.495.
    images = [rec([BOX], [0], [[*BOX, 0.9]], [0]), rec([BOX2], [0], [], [])]
    res = evaluate(images, ["person"])
    assert res.overall.mAP50 == pytest.approx(HALF)
    assert res.overall.R == pytest.approx(0.5)
    assert res.overall.n_images == 2


def test_iou_thresholds_give_map50_95() -> None:
    # IoU 0.72: TP at 0.50..0.70 (5 of 10 thresholds) -> mAP50-95 = 0.5 * 0.995
    shifted = [10, 10, 50, 50 * 0.72 + 10 * 0.28]  # height 40 -> 28.8, IoU = 28.8/40 = 0.72
    assert box_iou(np.array([BOX]), np.array([shifted]))[0, 0] == pytest.approx(0.72, abs=1e-6)
    res = evaluate([rec([BOX], [0], [[*shifted, 0.8]], [0])], ["person"])
    assert res.overall.mAP50 == pytest.approx(PERFECT)
    assert res.overall.mAP50_95 == pytest.approx(0.5 * PERFECT)
    assert res.classes[0].ap == pytest.approx([PERFECT] * 5 + [0.0] * 5)


def test_duplicates_are_false_positives_and_matching_is_greedy_by_score() -> None:
    # two detections of one object: the first (higher score) is the TP, the second an FP
    images = [rec([BOX], [0], [[*BOX, 0.6], [11, 11, 50, 50, 0.9]], [0, 0])]
    tp = match_image(np.array([[11, 11, 50, 50], BOX], float), np.array([0, 0]),
                     np.array([BOX], float), np.array([0]))
    assert tp[:, 0].tolist() == [True, False]
    res = evaluate(images, ["person"], conf=0.5)
    assert (res.overall.P, res.overall.R) == pytest.approx((0.5, 1.0))
    assert res.overall.mAP50 == pytest.approx(PERFECT)  # the TP ranks first


def test_wrong_class_is_a_miss_and_classes_without_gt_are_left_out() -> None:
    images = [rec([BOX], [0], [[*BOX, 0.9]], [1])]  # a 'car' box on a person
    res = evaluate(images, ["person", "car"])
    person, car = res.classes
    assert person.mAP50 == 0.0 and person.R == 0.0
    assert math.isnan(car.mAP50) and math.isnan(car.P)  # no car ground truth: not averaged
    assert res.overall.mAP50 == 0.0
    assert res.overall.n_pred == 1  # ... but its boxes are counted


def test_per_class_and_overall_mean() -> None:
    images = [rec([BOX, BOX2], [0, 1], [[*BOX, 0.9]], [0])]
    res = evaluate(images, ["person", "car"])
    assert [c.mAP50 for c in res.classes] == pytest.approx([PERFECT, 0.0])
    assert res.overall.mAP50 == pytest.approx(PERFECT / 2)
    assert res.overall.R == pytest.approx(0.5)


def test_no_ground_truth_anywhere_is_nan() -> None:
    res = evaluate([rec([], [], [[*BOX, 0.9]], [0])], ["person"])
    assert math.isnan(res.overall.mAP50)


def test_rows_round_trip() -> None:
    gb, gc = np.array([BOX, BOX2], float), np.array([0, 1])
    pb, ps, pc = np.array([BOX, BOX2], float), np.array([0.9, 0.4]), np.array([0, 0])
    rows = item_rows(["person", "car"], gb, gc, pb, ps, pc)
    assert set(rows) == {"person", "car"} and rows["car"]["pred"] == []
    back = ImageRecord.from_rows(rows, ["person", "car"])
    a = evaluate([back], ["person", "car"])
    b = evaluate([ImageRecord(gb, gc, pb, ps, pc)], ["person", "car"])
    assert a.overall.mAP50 == b.overall.mAP50 and a.overall.P == b.overall.P


def test_read_yolo_labels(tmp_path: Path) -> None:
    f = tmp_path / "labels" / "a.txt"
    f.parent.mkdir()
    f.write_text("0 0.5 0.5 0.5 0.25\n\n2 0.1 0.2 0.2 0.2\n")
    boxes, cls = read_yolo_labels(f, 640, 480, 3)
    assert cls.tolist() == [0, 2]
    assert boxes.ravel().tolist() == pytest.approx([160, 180, 480, 300, 0, 48, 128, 144])
    (tmp_path / "classes.txt").write_text("person\nbicycle\ncar\n")
    assert read_class_names(f) == ["person", "bicycle", "car"]
    f.write_text("0 0.5 0.5 0.5\n")
    with pytest.raises(DataError, match=r"a.txt:1: not a YOLO label line"):
        read_yolo_labels(f, 640, 480)
    f.write_text("0 50 60 10 10\n")
    with pytest.raises(DataError, match="normalised"):
        read_yolo_labels(f, 640, 480)
    f.write_text("5 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match=r"class id outside 0\.\.2"):
        read_yolo_labels(f, 640, 480, 3)
    with pytest.raises(DataError, match="label file not found"):
        read_yolo_labels(tmp_path / "nope.txt", 640, 480)


COCO_HEAD = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck")


def test_class_map_by_name_id_and_many_to_one() -> None:
    assert resolve_class_map(["person", "car"], COCO_HEAD) == {0: 0, 2: 1}
    m = resolve_class_map(["pedestrian", "vehicle"], COCO_HEAD,
                          {"pedestrian": "person", "vehicle": ["car", 5, "truck"]})
    assert m == {0: 0, 2: 1, 5: 1, 7: 1}
    dets = Detections(np.array([BOX, BOX, BOX2], float), np.array([0.9, 0.8, 0.7]),
                      np.array([0, 3, 7]), COCO_HEAD)
    _, scores, cls = map_detections(dets, m)
    assert cls.tolist() == [0, 1] and scores.tolist() == [0.9, 0.7]  # motorcycle dropped


@pytest.mark.parametrize(("classes", "cmap", "needle"), [
    (["pedestrian"], None, r"dataset 'msrs' class 'pedestrian' is not a class of detector "
                           r"'yolo' and the suite's class_map does not map it"),
    (["person"], {"person": "persn"}, r"'persn' is not a class of detector 'yolo'.*did you mean 'person'"),
    (["person"], {"person": 99}, r"has no class id 99 \(it has 0..7\)"),
    (["person", "car"], {"person": "car"}, r"maps detector class 'car' to two dataset classes"),
    (["person"], {"person": []}, r"maps dataset class 'person' to nothing"),
    (["person"], {"person": 1.5}, r"neither a class name nor an id"),
])
def test_class_map_errors_are_clear(classes, cmap, needle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=needle) as exc:
        resolve_class_map(classes, COCO_HEAD, cmap, detector="yolo", dataset="msrs")
    assert exc.value.fix  # every error says how to fix it


def test_class_map_key_typo() -> None:
    with pytest.raises(DataError, match=r"class_map names 'persn'.*did you mean 'person'"):
        check_class_map_keys({"persn": "person"}, ["person", "car"])
    check_class_map_keys({"person": "person"}, ["person", "car"])


def test_detections_contract() -> None:
    with pytest.raises(PluginOutputError, match="2 boxes, 1 scores"):
        Detections(np.zeros((2, 4)), np.zeros(1), np.zeros(2), ("a",))
    with pytest.raises(PluginOutputError, match="class ids outside"):
        Detections(np.zeros((1, 4)), np.zeros(1), np.array([3]), ("a",))
    d = Detections(np.ones((1, 4)), [0.5], [0], ("a",))
    back = Detections.from_json(d.to_json())
    assert np.array_equal(back.boxes, d.boxes) and back.scores.tolist() == [0.5]
    assert back.classes.tolist() == [0] and back.names == ("a",)
