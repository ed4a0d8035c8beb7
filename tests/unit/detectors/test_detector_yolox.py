"""YOLOX decoding and both runtimes, on tiny random-weight models the tests export themselves."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from model_code.detectors import build_detector
from model_code.detectors.base import DetectorError
from model_code.detectors.yolox import decode_raw, make_grid

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.*")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

STRIDES = (8, 16, 32)
CLASS_NAMES = ("person", "bicycle", "car")


class TinyYolox(torch.nn.Module):
    """A YOLOX-shaped network: one head per stride, (B, anchors, 5 + C) with sigmoid obj/cls."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, stride=8, padding=1)
        self.down16 = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.down32 = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.heads = torch.nn.ModuleList(torch.nn.Conv2d(8, 5 + num_classes, 1) for _ in STRIDES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f8 = torch.relu(self.stem(x / 255.0))
        f16 = torch.relu(self.down16(f8))
        f32 = torch.relu(self.down32(f16))
        outputs = []
        for features, head in zip((f8, f16, f32), self.heads, strict=True):
            out = head(features)
            out = torch.cat([out[:, :4], torch.sigmoid(out[:, 4:])], dim=1)
            outputs.append(out.flatten(2))
        return torch.cat(outputs, dim=2).permute(0, 2, 1)


class FixedOutput(torch.nn.Module):
    """Returns a crafted raw output whatever the input (batch of one)."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("output", output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output + x.mean() * 0


def export(module: torch.nn.Module, folder: Path, width: int, height: int) -> tuple[Path, Path]:
    """TorchScript and ONNX exports of `module` (ONNX with a dynamic batch)."""
    module.eval()
    example = torch.zeros(1, 3, height, width)
    script_path = folder / "model.torchscript"
    torch.jit.trace(module, example).save(str(script_path))
    onnx_path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(onnx_path),
            dynamo=False,
            input_names=["images"],
            output_names=["output"],
            dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}},
        )
    return script_path, onnx_path


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[TinyYolox, Path, Path]:
    torch.manual_seed(0)
    model = TinyYolox(len(CLASS_NAMES))
    with torch.no_grad():  # random weights, biased to give plenty of candidates
        for head in model.heads:
            head.bias[4] += 2.0
            head.bias[2:4] += 1.5  # boxes several cells wide, so neighbours overlap
    script, onnx = export(model, tmp_path_factory.mktemp("tiny"), 128, 96)
    return model, script, onnx


def test_grid_is_row_major_per_stride() -> None:
    grid, strides = make_grid(64, 32, STRIDES)
    assert len(grid) == 8 * 4 + 4 * 2 + 2 * 1
    assert grid[:3].tolist() == [[0, 0], [1, 0], [2, 0]]
    assert grid[8].tolist() == [0, 1]  # first cell of the second row at stride 8
    assert grid[32].tolist() == [0, 0] and strides[32, 0] == 16
    assert grid[-1].tolist() == [1, 0] and strides[-1, 0] == 32


def test_decode_raw_uses_offsets_and_log_sizes() -> None:
    grid, strides = make_grid(64, 64, STRIDES)
    raw = np.zeros((1, len(grid), 6), np.float32)
    index = 64 + 2 * 4 + 3  # stride 16, cell x=3 y=2
    raw[0, index, :4] = [0.25, 0.5, math.log(3.0), 0.0]
    decoded = decode_raw(raw, grid, strides)
    np.testing.assert_allclose(decoded[0, index, :4], [52, 40, 48, 16], rtol=1e-6)
    assert raw[0, index, 0] == 0.25  # the input is left alone


def crafted_output(width: int, height: int, num_classes: int) -> np.ndarray:
    """A raw output where three anchors predict the same box, centre (56, 40) and size 32 in
    network pixels: a person (0.9 x 0.8) at stride 16, a class-2 object (0.9 x 0.6) at stride 8
    and a weaker person (0.5 x 0.8) at stride 32. Every other anchor is background."""
    grid, _ = make_grid(width, height, STRIDES)
    raw = np.zeros((1, len(grid), 5 + num_classes), np.float32)
    cells8, cells16 = (width // 8) * (height // 8), (width // 16) * (height // 16)
    person = cells8 + 2 * (width // 16) + 3  # stride 16, cell x=3 y=2
    raw[0, person, :6] = [0.5, 0.5, math.log(2.0), math.log(2.0), 0.9, 0.8]
    other = 4 * (width // 8) + 6  # stride 8, cell x=6 y=4
    raw[0, other, :5] = [1.0, 1.0, math.log(4.0), math.log(4.0), 0.9]
    raw[0, other, 7] = 0.6
    weak = cells8 + cells16 + 1 * (width // 32) + 1  # stride 32, cell x=1 y=1
    raw[0, weak, :6] = [0.75, 0.25, 0.0, 0.0, 0.5, 0.8]
    return raw


@pytest.mark.parametrize("runtime", ["yolox-torchscript", "yolox-onnx"])
def test_crafted_anchor_lands_at_the_expected_source_box(runtime: str, tmp_path: Path) -> None:
    raw = crafted_output(128, 128, len(CLASS_NAMES))
    script, onnx = export(FixedOutput(torch.from_numpy(raw)), tmp_path, 128, 128)
    weights = script if runtime == "yolox-torchscript" else onnx
    frame = np.zeros((100, 200, 3), np.uint8)  # scale 0.64 into 128x128, padded at the bottom
    # centre (3.5, 2.5) cells x 16 = (56, 40), size 2 x 16 = 32 -> input box (40, 24, 72, 56)
    expected = np.array([40, 24, 72, 56], np.float32) / 0.64

    common = {"weights": weights, "class_names": CLASS_NAMES, "input_size": 128, "device": "cpu"}
    everything = build_detector(runtime, classes=None, **common).detect([frame])[0]
    order = np.argsort(-everything.scores)
    # class-aware NMS: the class-2 box survives the person box, the weaker person does not
    assert everything.labels[order].tolist() == [0, 2]
    np.testing.assert_allclose(everything.scores[order], [0.72, 0.54], rtol=1e-5)
    np.testing.assert_allclose(everything.boxes[order], [expected, expected], atol=1e-3)

    people = build_detector(runtime, classes=("person",), **common).detect([frame])[0]
    assert people.labels.tolist() == [0]
    cars = build_detector(runtime, classes=["car"], **common).detect([frame])[0]
    assert cars.labels.tolist() == [2]
    assert len(build_detector(runtime, score_threshold=0.8, **common).detect([frame])[0]) == 0


def test_decoded_outputs_flag(tmp_path: Path) -> None:
    raw = crafted_output(128, 128, len(CLASS_NAMES))
    grid, strides = make_grid(128, 128, STRIDES)
    decoded = decode_raw(raw, grid, strides)
    script, _ = export(FixedOutput(torch.from_numpy(decoded)), tmp_path, 128, 128)
    frame = np.zeros((128, 128, 3), np.uint8)
    dets = build_detector(
        "yolox-torchscript",
        weights=script,
        class_names=CLASS_NAMES,
        input_size=128,
        device="cpu",
        outputs_decoded=True,
    ).detect([frame])[0]
    np.testing.assert_allclose(dets.boxes, [[40, 24, 72, 56]], atol=1e-3)
    assert dets.scores.tolist() == pytest.approx([0.72])


def reference_detections(
    model: TinyYolox, image: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every anchor's xyxy box, best class and obj x cls score, decoded cell by cell."""
    with torch.no_grad():
        batch = torch.from_numpy(image.transpose(2, 0, 1)[None].astype(np.float32))
        raw = model(batch)[0].numpy()
    height, width = image.shape[:2]
    boxes, scores, labels = [], [], []
    row = 0
    for stride in STRIDES:
        for cy in range(height // stride):
            for cx in range(width // stride):
                px, py, pw, ph, obj, *cls = raw[row]
                centre_x, centre_y = (px + cx) * stride, (py + cy) * stride
                w, h = math.exp(pw) * stride, math.exp(ph) * stride
                boxes.append(
                    [centre_x - w / 2, centre_y - h / 2, centre_x + w / 2, centre_y + h / 2]
                )
                labels.append(int(np.argmax(cls)))
                scores.append(obj * max(cls))
                row += 1
    return np.array(boxes), np.array(scores), np.array(labels)


def test_runtimes_agree_with_each_other_and_a_reference_decode(
    tiny_exports: tuple[TinyYolox, Path, Path],
) -> None:
    model, script, onnx = tiny_exports
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)  # network size: no resize
    other = rng.integers(0, 256, (150, 100, 3), dtype=np.uint8)
    common = {"class_names": CLASS_NAMES, "classes": None, "input_size": (128, 96), "device": "cpu"}
    script_detector = build_detector("yolox-torchscript", weights=script, **common)
    onnx_detector = build_detector("yolox-onnx", weights=onnx, **common)
    by_script = script_detector.detect([image, other])
    by_onnx = onnx_detector.detect([image, other])
    for detector, backend in ((script_detector, "torch"), (onnx_detector, "onnxruntime")):
        runtime = detector.runtime()
        assert (runtime["device"], runtime["backend"]) == ("cpu", backend)
        assert (runtime["precision"], runtime["input_size"]) == ("fp32", [128, 96])

    for a, b in zip(by_script, by_onnx, strict=True):
        assert len(a) == len(b) > 3
        oa, ob = np.argsort(-a.scores), np.argsort(-b.scores)
        np.testing.assert_allclose(a.boxes[oa], b.boxes[ob], atol=1e-3)
        np.testing.assert_allclose(a.scores[oa], b.scores[ob], atol=1e-5)
        assert a.labels[oa].tolist() == b.labels[ob].tolist()

    ref_boxes, ref_scores, ref_labels = reference_detections(model, image)
    ref_boxes = np.clip(ref_boxes, 0, [128, 96, 128, 96])
    dets = by_script[0]
    assert dets.scores.max() == pytest.approx(ref_scores.max(), abs=1e-5)
    for box, score, label in zip(dets.boxes, dets.scores, dets.labels, strict=True):
        match = np.flatnonzero(np.abs(ref_scores - score) < 1e-5)
        assert any(
            np.allclose(ref_boxes[m], box, atol=1e-3) and ref_labels[m] == label for m in match
        ), f"detection {box} {score} has no matching anchor in the reference decode"
    assert (dets.scores >= 0.1).all()
    assert len(dets) < int((ref_scores >= 0.1).sum())  # NMS removed overlapping anchors


def test_wrong_class_count_is_a_clear_error(tiny_exports: tuple[TinyYolox, Path, Path]) -> None:
    _, script, onnx = tiny_exports
    frame = np.zeros((96, 128, 3), np.uint8)
    for name, weights in (("yolox-torchscript", script), ("yolox-onnx", onnx)):
        detector = build_detector(name, weights=weights, input_size=(128, 96), device="cpu")
        with pytest.raises(DetectorError, match="80 classes"):
            detector.detect([frame])


def test_onnx_takes_the_exported_input_size(tmp_path: Path) -> None:
    raw = crafted_output(128, 64, len(CLASS_NAMES))
    _, onnx = export(FixedOutput(torch.from_numpy(raw)), tmp_path, 128, 64)
    detector = build_detector("yolox-onnx", weights=onnx, class_names=CLASS_NAMES, device="cpu")
    assert detector.network_size == (128, 64)  # type: ignore[attr-defined]
    with pytest.raises(DetectorError, match="exported for input 128x64"):
        build_detector("yolox-onnx", weights=onnx, class_names=CLASS_NAMES, input_size=640)


def test_bad_yolox_weights_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="needs weights"):
        build_detector("yolox-onnx")
    with pytest.raises(DetectorError, match="does not exist"):
        build_detector("yolox-torchscript", weights=tmp_path / "missing.torchscript")
    pickled = tmp_path / "model.pt"
    torch.save(TinyYolox(3), pickled)  # a pickled module, which must not be loaded
    with pytest.raises(DetectorError, match="not a TorchScript archive"):
        build_detector("yolox-torchscript", weights=pickled, device="cpu")
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="onnxruntime could not load"):
        build_detector("yolox-onnx", weights=garbage, device="cpu")
