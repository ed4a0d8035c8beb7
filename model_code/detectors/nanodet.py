"""NanoDet-g (COCO-80) as a torch module, loaded from the TensorFlow.js graph of its weights.

Architecture (RangiLyu/nanodet, "nanodet-g"): a CSP backbone of 3x3 conv + LeakyReLU(0.1) blocks
(batch norm already folded into the conv biases), a PAN neck of 1x1 laterals with bilinear up- and
down-sampling, and a GFL head per level (3x3 conv, then a 1x1 conv to 80 class logits and 4 x 11
distance-bin logits) at strides 8, 16 and 32. The module takes BGR pixels in 0..255 and
normalises them itself, so one definition serves training, GPU, CPU and the ONNX export.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from model_code.detectors.base import DetectorError
from model_code.detectors.tfjs import TfjsGraph, read_graph
from model_code.detectors.torch_detector import TorchDetector

GRAPH_FILE = "nanodet.json"
# A fine-tuned NanoDet-g: a weights_only-safe torch.save of tensors, strings and ints only.
CHECKPOINT_FORMAT = "motflow-nanodet-g/1"
CHECKPOINT_SUFFIX = ".pt"
WEIGHT_FILES = ("nanodet.json", "nanodet.bin")
WEIGHTS_ENV = "MOTFLOW_WEIGHTS_DIR"
# Where `make setup` puts the weights in a checkout (weights/fetch.py).
CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[2] / ".cache" / "weights" / "nanodet"
NUM_CLASSES = 80
REG_MAX = 10  # distances are a distribution over 0..REG_MAX strides, i.e. 11 bins per side
STRIDES = (8, 16, 32)
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
LEAKY_SLOPE = 0.1
PAN_CHANNELS = 128


class ConvAct(nn.Module):
    """Conv2d (bias, same padding) followed by LeakyReLU(0.1) unless `act=False`."""

    def __init__(self, c_in: int, c_out: int, k: int = 3, stride: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, bias=True)
        self.act = nn.LeakyReLU(LEAKY_SLOPE) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class CspBlock(nn.Module):
    """conv to half width, conv again, concatenate both: same width out as in."""

    def __init__(self, channels: int):
        super().__init__()
        self.reduce = ConvAct(channels, channels // 2)
        self.mix = ConvAct(channels // 2, channels // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.reduce(x)
        return torch.cat([self.mix(reduced), reduced], dim=1)


class CspStage(nn.Module):
    """Entry conv, CSP blocks, exit conv, then the exit concatenated with the entry: 2x width."""

    def __init__(self, c_in: int, channels: int, blocks: int, stride: int):
        super().__init__()
        self.entry = ConvAct(c_in, channels, stride=stride)
        self.blocks = nn.Sequential(*(CspBlock(channels) for _ in range(blocks)))
        self.exit = ConvAct(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        entry = self.entry(x)
        return torch.cat([self.exit(self.blocks(entry)), entry], dim=1)


class NanoDet(nn.Module):
    """NanoDet-g. `forward` gives raw logits (N, A, 80 + 44); `predict` gives decoded boxes.

    Inputs are (N, 3, H, W) BGR pixel values in 0..255, H and W multiples of 32. Anchor points
    run level by level (strides 8, 16, 32), row-major within a level.
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.register_buffer("mean", torch.tensor(MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("bins", torch.arange(REG_MAX + 1.0), persistent=False)
        self.stem = ConvAct(3, 32, stride=2)
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.stages = nn.ModuleList(
            [
                CspStage(32, 32, blocks=1, stride=1),
                CspStage(64, 64, blocks=2, stride=2),
                CspStage(128, 128, blocks=2, stride=2),
                CspStage(256, 256, blocks=3, stride=2),
            ]
        )
        self.laterals = nn.ModuleList(
            ConvAct(c, PAN_CHANNELS, k=1, act=False) for c in (128, 256, 512)
        )
        outputs = num_classes + 4 * (REG_MAX + 1)
        self.heads = nn.ModuleList(
            nn.Sequential(ConvAct(PAN_CHANNELS, PAN_CHANNELS), nn.Conv2d(PAN_CHANNELS, outputs, 1))
            for _ in STRIDES
        )

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The three PAN outputs at strides 8, 16 and 32."""
        x = self.pool(self.stem((x - self.mean) / self.std))
        levels = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 1:
                levels.append(x)
        c3, c4, c5 = (lateral(c) for lateral, c in zip(self.laterals, levels, strict=True))
        p4 = c4 + _resize(c5, c4)
        p3 = c3 + _resize(p4, c3)
        n4 = p4 + _resize(p3, p4)
        n5 = c5 + _resize(n4, c5)
        return [p3, n4, n5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw head output (N, A, 80 class logits + 4 x 11 distance logits)."""
        levels = zip(self.heads, self.features(x), strict=True)
        return torch.cat([head(f).flatten(2).transpose(1, 2) for head, f in levels], dim=1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, A, 4 + 80): xyxy boxes in input pixels, then per-class scores in 0..1."""
        return self.decode(self.forward(x), x.shape[2], x.shape[3])

    def decode(self, raw: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """`predict`'s output from `forward`'s, for an input of `height` x `width` pixels."""
        centres, strides = anchor_points(height, width, raw.dtype, raw.device)
        logits = raw[..., self.num_classes :].unflatten(-1, (4, REG_MAX + 1))
        distances = (logits.softmax(-1) * self.bins.to(raw.dtype)).sum(-1) * strides
        boxes = torch.cat([centres - distances[..., :2], centres + distances[..., 2:]], dim=-1)
        return torch.cat([boxes, raw[..., : self.num_classes].sigmoid()], dim=-1)

    def load_tfjs(self, graph: TfjsGraph) -> NanoDet:
        """Copy the graph's conv kernels and biases into this module, checking every shape."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        found = graph_convs(graph)
        if len(found) != len(convs):
            raise DetectorError(
                f"the graph has {len(found)} convolutions, NanoDet-g has {len(convs)}"
            )
        with torch.no_grad():
            for conv, (name, kernel, bias, stride) in zip(convs, found, strict=True):
                weight = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
                if weight.shape != conv.weight.shape or stride != conv.stride[0]:
                    raise DetectorError(
                        f"graph node {name} has kernel {tuple(weight.shape)} stride {stride}; "
                        f"the module expects {tuple(conv.weight.shape)} stride {conv.stride[0]}"
                    )
                conv.weight.copy_(weight)
                conv.bias.copy_(torch.from_numpy(bias.copy()))
        return self


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize to `like`'s spatial size (half-pixel centres, as the graph does)."""
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


def anchor_points(
    height: int, width: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre (x, y) of every anchor point, shape (A, 2), and its stride, shape (A, 1)."""
    centres, strides = [], []
    for stride in STRIDES:
        ys = (torch.arange(height // stride, device=device, dtype=dtype) + 0.5) * stride
        xs = (torch.arange(width // stride, device=device, dtype=dtype) + 0.5) * stride
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        centres.append(torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1))
        strides.append(torch.full((grid_x.numel(), 1), float(stride), device=device, dtype=dtype))
    return torch.cat(centres), torch.cat(strides)


def graph_convs(graph: TfjsGraph) -> list[tuple[str, object, object, int]]:
    """(node name, HWIO kernel, bias, stride) of every Conv2D, in the graph's export order.

    The converter numbers the convolutions `convolution`, `convolution_1`, ... in the order of
    the original PyTorch modules; each one's bias is the constant added right after it.
    """
    found = []
    for node in graph.nodes:
        if node.op != "Conv2D":
            continue
        adds = [n for n in graph.consumers(node.name) if n.op in ("Add", "AddV2", "BiasAdd")]
        biases = [i for a in adds for i in a.inputs if i in graph.tensors]
        if len(biases) != 1:
            raise DetectorError(f"graph node {node.name} has no single bias constant")
        stride = int(node.attr["strides"]["list"]["i"][1])
        index = int(node.name.rsplit("_", 1)[1]) if "_" in node.name.rsplit("/", 1)[-1] else 0
        found.append(
            (index, node.name, graph.tensors[node.inputs[1]], graph.tensors[biases[0]], stride)
        )
    return [(name, kernel, bias, stride) for _, name, kernel, bias, stride in sorted(found)]


def find_weights_dir(weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder with nanodet.json and nanodet.bin: the argument, then $MOTFLOW_WEIGHTS_DIR,
    then the checkout's .cache/weights/nanodet (filled by `make setup`)."""
    if weights_dir is not None:
        folder, origin = Path(weights_dir), "the weights argument"
    elif os.environ.get(WEIGHTS_ENV):
        folder, origin = Path(os.environ[WEIGHTS_ENV]), f"${WEIGHTS_ENV}"
    else:
        folder, origin = CHECKOUT_WEIGHTS, "the checkout's weights cache"
    missing = [f for f in WEIGHT_FILES if not (folder / f).is_file()]
    if missing:
        raise DetectorError(
            f"NanoDet weights folder {folder} (from {origin}) lacks {', '.join(missing)}; run "
            "`make setup` (it fetches them into .cache/weights/nanodet) or pass weights=<folder>"
        )
    return folder


def load_nanodet(weights_dir: str | os.PathLike[str] | None = None) -> NanoDet:
    """NanoDet-g with the weights from `weights_dir` (see `find_weights_dir`), in eval mode."""
    folder = find_weights_dir(weights_dir)
    return NanoDet().load_tfjs(read_graph(folder / GRAPH_FILE)).eval()


def save_checkpoint(model: NanoDet, classes: tuple[str, ...], path: str | os.PathLike[str]) -> None:
    """Write a fine-tuned NanoDet-g and its class names (the head's rows, in order)."""
    if len(classes) != model.num_classes:
        raise DetectorError(f"{len(classes)} class names for a head of {model.num_classes} rows")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save({"format": CHECKPOINT_FORMAT, "classes": list(classes), "state_dict": state}, path)


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[NanoDet, tuple[str, ...]]:
    """A fine-tuned NanoDet-g (eval mode) and its class names, from `save_checkpoint`'s file."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        if data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
        classes = tuple(str(c) for c in data["classes"])
        model = NanoDet(num_classes=len(classes))
        model.load_state_dict(data["state_dict"])
    except (OSError, RuntimeError, ValueError, KeyError, AttributeError) as exc:
        raise DetectorError(
            f"{path} is not a fine-tuned NanoDet-g checkpoint ({exc}); give a file written by "
            "`motflow train`, or the folder with nanodet.json and nanodet.bin"
        ) from exc
    return model.eval(), classes


class NanoDetDetector(TorchDetector):
    """NanoDet-g on frames (see TorchDetector for device, backend, batching and input size).

    `weights` is the folder with the COCO graph (nanodet.json + .bin), or a fine-tuned `.pt`
    checkpoint, whose class names replace COCO's.
    """

    name = "nanodet-g"
    default_batch_size = 1
    gpu_batch_size = 32
    default_max_side = 416
    cpu_int8 = True  # measured: docs/BENCHMARKS.md, "int8 on the CPU"

    def __init__(self, weights: str | os.PathLike[str] | None = None, **options: object) -> None:
        if weights is not None and Path(weights).suffix == CHECKPOINT_SUFFIX:
            self.weights_dir = Path(weights).parent
            module, self.class_names = load_checkpoint(weights)
        else:
            self.weights_dir = find_weights_dir(weights)
            module = load_nanodet(self.weights_dir)
        super().__init__(module, **options)  # type: ignore[arg-type]
