"""A plain numpy evaluator of a TensorFlow.js graph, op by op, as the graph itself describes it.

Written independently of the torch module under test: it knows nothing about NanoDet's layers,
only the TensorFlow ops (NHWC convolutions with explicit pads, half-pixel bilinear resize, ...).
Slow and simple on purpose.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from model_code.detectors.tfjs import Node, TfjsGraph


def _conv2d(x: np.ndarray, kernel: np.ndarray, strides: list[int]) -> np.ndarray:
    """NHWC x HWIO, VALID padding."""
    kh, kw = kernel.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))  # N, H', W', C, kh, kw
    windows = windows[:, :: strides[1], :: strides[2]]
    return np.einsum("nhwcij,ijco->nhwo", windows, kernel, optimize=True)


def _max_pool(x: np.ndarray, ksize: list[int], strides: list[int]) -> np.ndarray:
    windows = sliding_window_view(x, (ksize[1], ksize[2]), axis=(1, 2))
    return windows[:, :: strides[1], :: strides[2]].max(axis=(-2, -1))


def _axis_weights(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorFlow's half-pixel-centre source indices and weights along one axis."""
    position = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    floor = np.floor(position)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(position), in_size - 1).astype(np.int64)
    return lower, upper, (position - floor).astype(np.float32)


def _resize_bilinear(x: np.ndarray, size: np.ndarray) -> np.ndarray:
    """NHWC bilinear resize with half_pixel_centers=True, align_corners=False."""
    y0, y1, wy = _axis_weights(int(size[0]), x.shape[1])
    x0, x1, wx = _axis_weights(int(size[1]), x.shape[2])
    top = x[:, y0] * (1 - wy)[None, :, None, None] + x[:, y1] * wy[None, :, None, None]
    return top[:, :, x0] * (1 - wx)[None, None, :, None] + top[:, :, x1] * wx[None, None, :, None]


def _attr_list(node: Node, key: str) -> list[int]:
    return [int(v) for v in node.attr[key]["list"]["i"]]


def evaluate(graph: TfjsGraph, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every node's output (`name` and `name:1` for the second output of a split)."""
    values: dict[str, np.ndarray] = dict(graph.tensors)
    values.update(inputs)

    def arg(name: str) -> np.ndarray:
        return values[name if ":" in name and not name.endswith(":0") else name.split(":")[0]]

    for node in graph.nodes:
        if node.op in ("Const", "Placeholder"):
            continue
        a = [arg(i) for i in node.inputs]
        op = node.op
        if op in ("Pad", "PadV2"):
            fill = float(a[2]) if op == "PadV2" else 0.0
            out = np.pad(a[0], a[1].astype(np.int64), constant_values=fill)
        elif op == "Transpose":
            out = np.transpose(a[0], a[1])
        elif op == "Conv2D":
            out = _conv2d(a[0], a[1], _attr_list(node, "strides"))
        elif op in ("Add", "AddV2"):
            out = a[0] + a[1]
        elif op == "LeakyRelu":
            alpha = float(node.attr["alpha"]["f"])
            out = np.where(a[0] >= 0, a[0], alpha * a[0])
        elif op == "MaxPool":
            out = _max_pool(a[0], _attr_list(node, "ksize"), _attr_list(node, "strides"))
        elif op == "ConcatV2":
            out = np.concatenate(a[:-1], axis=int(a[-1]))
        elif op == "SplitV":
            sizes, axis = a[1].astype(np.int64), int(a[2])
            first, second = np.split(a[0], [int(sizes[0])], axis=axis)
            values[f"{node.name}:1"] = second
            out = first
        elif op == "Sigmoid":
            out = 1.0 / (1.0 + np.exp(-a[0]))
        elif op == "ResizeBilinear":
            assert node.attr["half_pixel_centers"]["b"] and not node.attr["align_corners"]["b"]
            out = _resize_bilinear(a[0], a[1])
        elif op == "Reshape":
            out = a[0].reshape(a[1].astype(np.int64))
        elif op == "SparseToDense":
            out = np.full(a[1].astype(np.int64), a[3], dtype=a[3].dtype)
            out[tuple(a[0].astype(np.int64).T)] = a[2]
        elif op == "Identity":
            out = a[0]
        else:
            raise NotImplementedError(f"op {op} of node {node.name}")
        values[node.name] = np.asarray(out, dtype=np.float32 if out.dtype.kind == "f" else None)
    return values
