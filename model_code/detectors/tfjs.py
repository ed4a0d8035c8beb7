"""Reads a TensorFlow.js graph model (model.json + weight shards) into numpy: nodes and constants.

Only what the NanoDet loader and its reference test need: the node list and every constant
tensor, with fp16-quantised weights widened to float32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_code.detectors.base import DetectorError

_DTYPES = {"float32": np.float32, "int32": np.int32}
_QUANTISED = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any]


@dataclass(frozen=True)
class TfjsGraph:
    nodes: tuple[Node, ...]
    tensors: dict[str, np.ndarray]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def consumers(self, name: str) -> list[Node]:
        """The nodes that take the output of `name` as an input."""
        return [n for n in self.nodes if any(i.split(":")[0] == name for i in n.inputs)]


def read_graph(model_json: str | Path) -> TfjsGraph:
    """The graph's nodes and constants; the weight shards are read from beside the json."""
    path = Path(model_json)
    try:
        model = json.loads(path.read_text())
        topology = model["modelTopology"]["node"]
        manifest = model["weightsManifest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DetectorError(f"{path} is not a TensorFlow.js graph model: {exc}") from exc
    tensors: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b"".join((path.parent / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            array, offset = _read_tensor(buffer, offset, spec, path)
            tensors[spec["name"]] = array
        if offset != len(buffer):
            raise DetectorError(
                f"{path}: weight shards hold {len(buffer)} bytes, the manifest describes {offset}"
            )
    nodes = tuple(
        Node(n["name"], n["op"], tuple(n.get("input", ())), n.get("attr", {})) for n in topology
    )
    return TfjsGraph(nodes, tensors)


def _read_tensor(
    buffer: bytes, offset: int, spec: dict[str, Any], path: Path
) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    count = int(np.prod(shape)) if shape else 1
    quantization = spec.get("quantization")
    if quantization:
        stored = np.dtype(_QUANTISED[quantization["dtype"]])
    else:
        stored = np.dtype(_DTYPES[spec["dtype"]])
    end = offset + count * stored.itemsize
    if end > len(buffer):
        raise DetectorError(f"{path}: the weight shards are truncated at {spec['name']}")
    array = np.frombuffer(buffer, dtype=stored, count=count, offset=offset)
    if quantization and quantization["dtype"] != "float16":
        array = array * quantization["scale"] + quantization["min"]
    out = array.astype(_DTYPES[spec["dtype"]]).reshape(shape)
    return out, end
