"""A darknet cfg (the subset yolov3-tiny and yolov4-tiny use) as a torch module, and its .weights
loader.

Layers: convolutional (batch norm, leaky or linear), maxpool (darknet's right/bottom padding),
route (with `groups`/`group_id`: one channel slice of each source), upsample (nearest) and yolo
(with `scale_x_y`). `predict` decodes every yolo layer into xyxy boxes in input pixels and
per-class scores (objectness x class probability), the convention OpenCV DNN uses. An option
that would change inference and is not implemented is an error, never ignored.
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model_code.detectors.base import DetectorError

SECTION_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*$")
LEAKY_SLOPE = 0.1
BN_EPS = 1e-5


def parse_cfg(cfg_text: str) -> list[tuple[str, dict[str, str]]]:
    """(section kind, options) in file order, comments dropped."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in cfg_text.splitlines():
        line = line.split("#", 1)[0].strip()
        header = SECTION_HEADER.match(line)
        if header:
            sections.append((header.group(1).strip().lower(), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
    return sections


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


class DarknetConv(nn.Module):
    def __init__(self, c_in: int, options: dict[str, str]) -> None:
        super().__init__()
        filters, size = int(options["filters"]), int(options.get("size", 1))
        stride = int(options.get("stride", 1))
        if int(options.get("groups", 1)) != 1 or int(options.get("dilation", 1)) != 1:
            raise DetectorError("darknet grouped or dilated convolutions are not supported")
        padding = size // 2 if int(options.get("pad", 0)) else 0
        self.batch_norm = options.get("batch_normalize", "0") == "1"
        self.conv = nn.Conv2d(c_in, filters, size, stride, padding, bias=not self.batch_norm)
        self.norm = nn.BatchNorm2d(filters, eps=BN_EPS) if self.batch_norm else nn.Identity()
        activation = options.get("activation", "linear")
        if activation not in ("leaky", "linear"):
            raise DetectorError(f"darknet activation {activation!r} is not supported")
        self.act = nn.LeakyReLU(LEAKY_SLOPE) if activation == "leaky" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class DarknetMaxPool(nn.Module):
    """Darknet pads size-1 on the right and bottom only (so size 2 / stride 1 keeps the size)."""

    def __init__(self, size: int, stride: int) -> None:
        super().__init__()
        self.size, self.stride = size, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.size - 1
        padded = F.pad(x, (0, pad, 0, pad), value=float("-inf")) if pad else x
        return F.max_pool2d(padded, self.size, self.stride)


class YoloLayer(nn.Module):
    def __init__(self, options: dict[str, str]) -> None:
        super().__init__()
        if int(options.get("new_coords", 0)) != 0:
            raise DetectorError("darknet [yolo] new_coords=1 is not supported")
        # Centres may reach a little past their cell: sigmoid(t) * s - (s - 1) / 2.
        self.scale_xy = float(options.get("scale_x_y", 1.0))
        anchors = np.array(_ints(options["anchors"]), dtype=np.float32).reshape(-1, 2)
        mask = _ints(options["mask"])
        self.classes = int(options["classes"])
        self.register_buffer("anchors", torch.from_numpy(anchors[mask]), persistent=False)

    def decode(self, x: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        """(N, A*(5+C), H, W) -> (N, H*W*A, 4 + C): xyxy in input pixels, obj x class scores.

        Decoded in float32 whatever the network ran in: in fp16 (max 65,504) `exp(t) * anchor`
        overflows to inf once t exceeds about 5.2 on the 344-px anchor, and an inf box meets
        NMS as NaN IoUs, which silently drops other boxes.
        """
        x = x.float()
        n, _, height, width = x.shape
        anchors = len(self.anchors)
        x = x.view(n, anchors, 5 + self.classes, height, width).permute(0, 3, 4, 1, 2)
        ys = torch.arange(height, device=x.device, dtype=x.dtype).view(1, height, 1, 1)
        xs = torch.arange(width, device=x.device, dtype=x.dtype).view(1, 1, width, 1)
        shift = (self.scale_xy - 1) / 2
        cx = (xs + x[..., 0].sigmoid() * self.scale_xy - shift) * (input_hw[1] / width)
        cy = (ys + x[..., 1].sigmoid() * self.scale_xy - shift) * (input_hw[0] / height)
        w = x[..., 2].exp() * self.anchors[:, 0].float()
        h = x[..., 3].exp() * self.anchors[:, 1].float()
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
        scores = x[..., 4:5].sigmoid() * x[..., 5:].sigmoid()
        return torch.cat([boxes, scores], dim=-1).reshape(n, -1, 4 + self.classes)


class Darknet(nn.Module):
    """The network a darknet cfg describes; inputs are BGR pixels in 0..255, (N, 3, H, W)."""

    def __init__(self, cfg_text: str) -> None:
        super().__init__()
        sections = parse_cfg(cfg_text)
        if not sections or sections[0][0] not in ("net", "network"):
            raise DetectorError("the darknet cfg does not start with a [net] section")
        channels = [int(sections[0][1].get("channels", 3))]
        self.kinds: list[str] = []
        self.routes: dict[int, list[int]] = {}
        self.route_groups: dict[int, tuple[int, int]] = {}
        self.layers = nn.ModuleList()
        for index, (kind, options) in enumerate(sections[1:]):
            previous = channels[-1]
            if kind == "convolutional":
                layer: nn.Module = DarknetConv(previous, options)
                channels.append(int(options["filters"]))
            elif kind == "maxpool":
                layer = DarknetMaxPool(int(options["size"]), int(options.get("stride", 1)))
                channels.append(previous)
            elif kind == "upsample":
                layer = nn.Upsample(scale_factor=int(options.get("stride", 2)), mode="nearest")
                channels.append(previous)
            elif kind == "route":
                sources = [v if v >= 0 else index + v for v in _ints(options["layers"])]
                groups, group_id = int(options.get("groups", 1)), int(options.get("group_id", 0))
                if not 0 <= group_id < groups or any(channels[s + 1] % groups for s in sources):
                    raise DetectorError(f"darknet [route] groups={groups} group_id={group_id} "
                                        "does not split its sources evenly")  # fmt: skip
                self.routes[index] = sources
                self.route_groups[index] = (groups, group_id)
                layer = nn.Identity()
                channels.append(sum(channels[s + 1] for s in sources) // groups)
            elif kind == "yolo":
                layer = YoloLayer(options)
                channels.append(previous)
            else:
                raise DetectorError(f"darknet layer [{kind}] is not supported")
            self.kinds.append(kind)
            self.layers.append(layer)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The raw input of every yolo layer, (N, A*(5+C), H, W) each."""
        x = x / 255.0
        x = x.flip(1)  # darknet weights expect RGB
        outputs: list[torch.Tensor] = []
        heads: list[torch.Tensor] = []
        for index, (kind, layer) in enumerate(zip(self.kinds, self.layers, strict=True)):
            if kind == "route":
                groups, group_id = self.route_groups[index]
                parts = [outputs[s] for s in self.routes[index]]
                if groups > 1:
                    parts = [part.chunk(groups, dim=1)[group_id] for part in parts]
                x = torch.cat(parts, dim=1)
            elif kind == "yolo":
                heads.append(x)
            else:
                x = layer(x)
            outputs.append(x)
        return heads

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, A, 4 + C): xyxy boxes in input pixels, then objectness x class scores."""
        yolo = [
            layer for kind, layer in zip(self.kinds, self.layers, strict=True) if kind == "yolo"
        ]
        hw = (x.shape[2], x.shape[3])
        return torch.cat(
            [layer.decode(raw, hw) for layer, raw in zip(yolo, self.forward(x), strict=True)],
            dim=1,
        )

    def load_weights(self, data: bytes) -> Darknet:
        """Load a darknet .weights file (header, then per conv: bn or bias, then kernel)."""
        if len(data) < 20:
            raise DetectorError("the darknet weights file is too short")
        major, minor = np.frombuffer(data[:8], dtype=np.int32)
        header = 20 if major * 10 + minor >= 2 else 16
        values = np.frombuffer(data, dtype=np.float32, offset=header)
        offset = 0

        def take(tensor: torch.Tensor) -> None:
            nonlocal offset
            count = tensor.numel()
            if offset + count > len(values):
                raise DetectorError("the darknet weights file is truncated for this cfg")
            chunk = values[offset : offset + count].reshape(tuple(tensor.shape))
            tensor.copy_(torch.from_numpy(chunk.copy()))
            offset += count

        with torch.no_grad():
            for layer in self.layers:
                if not isinstance(layer, DarknetConv):
                    continue
                if isinstance(layer.norm, nn.BatchNorm2d):
                    for tensor in (
                        layer.norm.bias,
                        layer.norm.weight,
                        layer.norm.running_mean,
                        layer.norm.running_var,
                    ):
                        take(tensor)
                else:
                    take(layer.conv.bias)
                take(layer.conv.weight)
        if offset != len(values):
            raise DetectorError(
                f"the darknet weights file holds {len(values) - offset} floats more than the cfg"
            )
        return self
