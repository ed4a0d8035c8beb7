"""The fine-tuning loop: augmented batches, GFL losses, validation mAP@0.5 each epoch, early stop.

Each epoch prints one `key=value;` line (SageMaker metric definitions read them, see
`sagemaker_job.METRIC_DEFINITIONS`). The best epoch by validation mAP@0.5 (ties: lower validation
loss) is kept; epoch 0 is the starting model, so a fine-tune never returns a worse detector than
it started from on the validation set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from model_code.detectors.nanodet import NanoDet
from model_code.detectors.nms import batched_nms
from model_code.tracking.presets import MIN_SCORE_SCALE
from model_code.training.augment import AugmentConfig, augment, pad_to_stride
from model_code.training.evaluate import ImageResult, mean_ap, true_positive_scores
from model_code.training.frames import Sample
from model_code.training.losses import gfl_loss

VAL_SCORE_FLOOR = 0.05
# The top of a detector's score scale, read robustly: this quantile of its matched validation
# scores (the presets use the highest score a clear person gets; one stray high score on a small
# validation set should not set it).
SCALE_QUANTILE = 0.98
VAL_NMS_IOU = 0.6
MAX_DETECTIONS = 100


class TrainingError(ValueError):
    """Training cannot start with these inputs; the message says what to change."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters (the names are the SageMaker hyperparameter names)."""

    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    input_size: int = 416
    patience: int = 5
    freeze_backbone: bool = False
    iterations_per_epoch: int = 0  # 0: one pass over the training frames
    warmup_iterations: int = 20
    seed: int = 0
    threads: int = 0  # 0: torch's default
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.input_size < 64 or self.input_size % 32:
            raise TrainingError(f"input_size must be a multiple of 32 >= 64, got {self.input_size}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise TrainingError(f"lr must be positive, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_map50: float
    seconds: float
    score_scale: float = float("nan")  # `score_scale_of` the matched validation detections

    def metrics_line(self) -> str:
        return (
            f"epoch={self.epoch}; train_loss={self.train_loss:.5f}; val_loss={self.val_loss:.5f}; "
            f"val_map50={self.val_map50:.5f}; epoch_s={self.seconds:.1f};"
        )


@dataclass
class TrainResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    history: list[EpochResult]

    @property
    def best(self) -> EpochResult:
        return self.history[self.best_epoch]

    def score_scale(self, epoch: int | None = None) -> float | None:
        """The top of the score scale of the model of `epoch` (default: the best), measured on
        the validation frames; None when nothing matched there.

        Fine-tuning with quality focal loss makes scores estimate IoU, so they usually top out
        lower than the starting detector's. The exported config.json carries this figure and the
        engine builds the tracker from `scaled_preset` of it (model_code/tracking/presets.py).
        """
        scale = self.history[self.best_epoch if epoch is None else epoch].score_scale
        return scale if scale > 0 else None  # NaN: nothing matched


def score_scale_of(matched: np.ndarray) -> float:
    """The top of a detector's score scale from its matched (true-positive) scores: a high
    quantile, within the presets' bounds; NaN with no matches."""
    if len(matched) == 0:
        return float("nan")
    return float(np.clip(np.quantile(matched, SCALE_QUANTILE), MIN_SCORE_SCALE, 1.0))


def _device(model: NanoDet) -> torch.device:
    return next(model.parameters()).device


def _to_tensor(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    batch = np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))
    return torch.from_numpy(batch).to(device).float()


def _targets(
    boxes: list[np.ndarray], classes: list[np.ndarray], device: torch.device
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    return (
        [torch.from_numpy(b).to(device).float() for b in boxes],
        [torch.from_numpy(c).to(device).long() for c in classes],
    )


def _backbone_parameters(model: NanoDet) -> list[torch.nn.Parameter]:
    return [*model.stem.parameters(), *model.stages.parameters()]


def validate(model: NanoDet, samples: list[Sample]) -> tuple[float, float, float]:
    """(validation loss, mAP@0.5, score scale) of `model` on `samples`, one un-augmented image
    at a time."""
    model.eval()
    device = _device(model)
    losses, results = [], []
    with torch.inference_mode():
        for sample in samples:
            image = pad_to_stride(sample.image)
            x = _to_tensor([image], device)
            raw = model(x)
            boxes, classes = _targets([sample.boxes], [sample.classes], device)
            losses.append(
                float(gfl_loss(raw, model.num_classes, *x.shape[2:], boxes, classes).total)
            )
            rows = model.decode(raw, *x.shape[2:])[0].float().cpu().numpy()
            scores = rows[:, 4:].max(1)
            labels = rows[:, 4:].argmax(1)
            keep = scores >= VAL_SCORE_FLOOR
            kept = batched_nms(rows[keep, :4], scores[keep], labels[keep], VAL_NMS_IOU)
            kept = kept[:MAX_DETECTIONS]
            results.append(
                ImageResult(
                    rows[keep, :4][kept],
                    scores[keep][kept],
                    labels[keep][kept],
                    sample.boxes,
                    sample.classes,
                )
            )
    scale = score_scale_of(true_positive_scores(results, model.num_classes))
    return float(np.mean(losses)), mean_ap(results, model.num_classes), scale


def _better(result: EpochResult, best: EpochResult) -> bool:
    if result.val_map50 > best.val_map50 + 1e-6:
        return True
    return abs(result.val_map50 - best.val_map50) <= 1e-6 and result.val_loss < best.val_loss


def train(
    model: NanoDet,
    train_samples: list[Sample],
    val_samples: list[Sample],
    config: TrainConfig,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Fine-tune `model` in place (on CUDA when torch sees a GPU); return the best weights (on
    the CPU) and the per-epoch history."""
    if not train_samples or not val_samples:
        raise TrainingError("training needs at least one training and one validation frame")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.freeze_backbone:
        for parameter in _backbone_parameters(model):
            parameter.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = config.iterations_per_epoch or math.ceil(len(train_samples) / config.batch_size)
    total = per_epoch * config.epochs

    def schedule(step: int) -> float:
        warm = min(1.0, (step + 1) / config.warmup_iterations) if config.warmup_iterations else 1.0
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    started = time.perf_counter()
    val_loss, val_map, scale = validate(model, val_samples)
    history = [
        EpochResult(0, float("nan"), val_loss, val_map, time.perf_counter() - started, scale)
    ]
    log(history[0].metrics_line())
    best_state, best_epoch, stale = _cpu_state(model), 0, 0
    order: list[int] = []
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        losses = []
        for _ in range(per_epoch):
            if len(order) < config.batch_size:
                order += list(rng.permutation(len(train_samples)))
            picked, order = order[: config.batch_size], order[config.batch_size :]
            batch = [
                augment(train_samples[i], config.input_size, config.augment, rng) for i in picked
            ]
            x = _to_tensor([b[0] for b in batch], device)
            boxes, classes = _targets([b[1] for b in batch], [b[2] for b in batch], device)
            loss = gfl_loss(model(x), model.num_classes, *x.shape[2:], boxes, classes)
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 35.0)
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.total.detach()))
        val_loss, val_map, scale = validate(model, val_samples)
        seconds = time.perf_counter() - started
        result = EpochResult(epoch, float(np.mean(losses)), val_loss, val_map, seconds, scale)
        history.append(result)
        log(result.metrics_line())
        if _better(result, history[best_epoch]):
            best_state, best_epoch, stale = _cpu_state(model), epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                log(f"early_stop=1; epoch={epoch}; best_epoch={best_epoch};")
                break
    log(f"best_epoch={best_epoch}; best_val_map50={history[best_epoch].val_map50:.5f};")
    model.to("cpu")
    return TrainResult(best_state, best_epoch, history)


def _cpu_state(model: NanoDet) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
