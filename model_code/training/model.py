"""NanoDet-g set up for the user's classes, starting from the shipped COCO weights.

Backbone, neck, head convolutions and the box-distribution rows of each head's last conv are
copied as they are. The class rows are mapped: a user class that is a COCO class (by name, or by
`aliases` such as pedestrian -> person) keeps its trained COCO row, so fine-tuning starts from a
working detector; a new class gets a fresh row with a low prior (score 0.01), as GFL initialises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from model_code.detectors.base import COCO_CLASS_NAMES
from model_code.detectors.nanodet import NUM_CLASSES, NanoDet, load_nanodet

PRIOR = 0.01
DEFAULT_ALIASES = {"pedestrian": "person", "people": "person", "motorcycle": "motorbike"}


def coco_rows(
    classes: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> list[int | None]:
    """For each user class, its COCO row, or None for a new class."""
    names = {n.lower(): i for i, n in enumerate(COCO_CLASS_NAMES)}
    table = {**DEFAULT_ALIASES, **{k.lower(): v.lower() for k, v in (aliases or {}).items()}}
    rows = []
    for name in classes:
        key = name.strip().lower()
        rows.append(names.get(table.get(key, key)))
    return rows


def finetune_model(
    classes: tuple[str, ...],
    weights_dir: str | Path | None = None,
    aliases: Mapping[str, str] | None = None,
    seed: int = 0,
) -> tuple[NanoDet, list[int | None]]:
    """NanoDet-g with `len(classes)` class rows, initialised from COCO; and the row mapping."""
    coco = load_nanodet(weights_dir)
    model = NanoDet(num_classes=len(classes))
    own = model.state_dict()
    rows = coco_rows(classes, aliases)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in coco.state_dict().items():
            if own[name].shape == value.shape:
                own[name].copy_(value)
                continue
            # The head's last 1x1 conv: class rows first, then 4 x 11 distance rows.
            target = own[name]
            target[len(classes) :] = value[NUM_CLASSES:]
            for i, row in enumerate(rows):
                if row is not None:
                    target[i] = value[row]
                elif name.endswith("weight"):
                    target[i] = torch.randn(target[i].shape, generator=generator) * 0.01
                else:
                    target[i] = -math.log((1 - PRIOR) / PRIOR)
    model.load_state_dict(own)
    return model, rows


def last_convs(model: NanoDet) -> list[nn.Conv2d]:
    return [head[-1] for head in model.heads]
