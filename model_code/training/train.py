"""The fine-tuning loop: augmented batches, GFL losses, validation each epoch, early stop.

Validation measures detection (mAP@0.5) and, where the validation sequences carry track ids,
tracking: the engine's tracker (with the thresholds the exported model would get) runs over each
validation sequence's detections in frame order, scored by IDF1, HOTA and MOTA
(`track_metrics`). The product is a tracker, so the checkpoint is chosen by tracking: the best
epoch by the mean of IDF1 and HOTA (ties: MOTA, then mAP, then lower validation loss). Without
track ids it falls back to mAP@0.5 (ties: lower validation loss).

Guard: epoch 0 is the starting model, tracked as the engine runs it today (its score scale read
off the detections as they arrive, as for the shipped NanoDet-g); fine-tuned epochs are tracked
with the scale the export would fix (`score_scale`). A fine-tuned epoch is eligible only if it
tracks the validation frames better than the starting model on both IDF1 and HOTA by more than
the validation set's own noise (a jackknife margin over blocks of frames, `guard.py`), with no
more ID switches (without track ids: at least as good by mAP). When no epoch qualifies the
starting model is kept, exported without a fixed score scale (so the endpoint runs it exactly as
the starting model), and the output says so (`kept_starting_model=1;`).

Each epoch prints one `key=value;` line (SageMaker metric definitions read them, see
`sagemaker_job.METRIC_DEFINITIONS`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from model_code.detectors.nanodet import NanoDet
from model_code.detectors.nms import batched_nms
from model_code.tracking import ByteTracker, tracker_config
from model_code.tracking.presets import MIN_SCORE_SCALE, scaled_preset
from model_code.training.augment import AugmentConfig, augment, pad_to_stride
from model_code.training.evaluate import ImageResult, mean_ap, true_positive_scores
from model_code.training.frames import Sample
from model_code.training.guard import Gain, blocks, leave_one_out, tracking_gain
from model_code.training.losses import gfl_loss
from model_code.training.track_metrics import FrameBoxes, TrackScores, score_tracks

VAL_SCORE_FLOOR = 0.05
DETECTOR = "nanodet-g"  # the fine-tuned detector; its stock tracker preset tracks the start
# The top of a detector's score scale, read robustly: this quantile of its matched validation
# scores (the presets use the highest score a clear person gets; one stray high score on a small
# validation set should not set it).
SCALE_QUANTILE = 0.98
VAL_NMS_IOU = 0.6
MAX_DETECTIONS = 100
# Default frame rate the validation sequences are tracked at (`TrainConfig.val_fps`): labelled
# frames are taken as consecutive updates at this rate. Set it to the rate the labelled frames
# were sampled at (the video's rate when every frame is labelled): track lifetimes are in seconds.
VAL_TRACK_FPS = 10.0
_NAN = float("nan")


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
    val_fps: float = VAL_TRACK_FPS
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if self.input_size < 64 or self.input_size % 32:
            raise TrainingError(f"input_size must be a multiple of 32 >= 64, got {self.input_size}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise TrainingError(f"lr must be positive, got {self.lr}")
        if not self.val_fps > 0:
            raise TrainingError(f"val_fps must be positive, got {self.val_fps}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_map50: float
    seconds: float
    score_scale: float = _NAN  # `score_scale_of` the matched validation detections
    val_idf1: float = _NAN  # tracking the validation sequences (NaN: no track ids)
    val_hota: float = _NAN
    val_mota: float = _NAN
    val_id_switches: float = _NAN
    # The gains over the start a fine-tuned epoch must exceed (guard.py); 0 for the start.
    idf1_margin: float = 0.0
    hota_margin: float = 0.0

    @property
    def tracked(self) -> bool:
        return not math.isnan(self.val_idf1)

    def metrics_line(self) -> str:
        line = (
            f"epoch={self.epoch}; train_loss={self.train_loss:.5f}; val_loss={self.val_loss:.5f}; "
            f"val_map50={self.val_map50:.5f}; epoch_s={self.seconds:.1f};"
        )
        if self.tracked:
            line += (
                f" val_idf1={self.val_idf1:.5f}; val_hota={self.val_hota:.5f};"
                f" val_mota={self.val_mota:.5f}; val_idsw={self.val_id_switches:.0f};"
            )
            if self.epoch:
                line += f" idf1_margin={self.idf1_margin:.5f}; hota_margin={self.hota_margin:.5f};"
        return line


@dataclass
class TrainResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    history: list[EpochResult]

    @property
    def selected_by(self) -> str:
        """ "tracking" (IDF1/HOTA on the validation sequences) or "map50" (no track ids)."""
        return "tracking" if self.history[0].tracked else "map50"

    @property
    def kept_starting_model(self) -> bool:
        """No fine-tuned epoch was at least as good as the starting model: it is exported."""
        return self.best_epoch == 0 and len(self.history) > 1

    @property
    def best(self) -> EpochResult:
        return self.history[self.best_epoch]

    def score_scale(self, epoch: int | None = None) -> float | None:
        """The top of the score scale of the model of `epoch` (default: the best), measured on
        the validation frames; None when nothing matched there, and by default when the best is
        the starting model (exported as it runs today: the engine reads its scale off each video).

        Fine-tuning with quality focal loss makes scores estimate IoU, so they usually top out
        lower than the starting detector's. The exported config.json carries this figure and the
        engine builds the tracker from `scaled_preset` of it (model_code/tracking/presets.py).
        """
        if epoch is None and self.best_epoch == 0:
            return None
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


Tracked = tuple[list[FrameBoxes], list[FrameBoxes]]  # (gt, tracks), frame by frame


@dataclass(frozen=True)
class Validation:
    loss: float
    map50: float
    score_scale: float
    tracking: TrackScores | None  # None: no validation sequence carries track ids
    frames: Tracked | None = None  # what `tracking` scored


def track_validation(
    samples: list[Sample],
    results: list[ImageResult],
    score_scale: float | None,
    fps: float = VAL_TRACK_FPS,
    upright: Sequence[int] | None = None,
) -> TrackScores | None:
    """IDF1/HOTA/MOTA of `tracked_frames`; None when no sequence carries track ids."""
    gt, hyp = tracked_frames(samples, results, score_scale, fps, upright)
    return score_tracks(gt, hyp) if gt else None


def tracked_frames(
    samples: list[Sample],
    results: list[ImageResult],
    score_scale: float | None,
    fps: float = VAL_TRACK_FPS,
    upright: Sequence[int] | None = None,
) -> Tracked:
    """Track each validation sequence whose boxes all carry track ids, frame by frame at `fps`,
    with the tracker the engine would build for this model (`score_scale` None: the stock preset,
    which reads the scale off the detections, and its width/height bound on the `upright`
    labels only, as the engine bounds the classes named upright; None: every label); the gt and
    tracks of those sequences pooled (frames concatenated, ids kept apart per sequence)."""
    if score_scale is None:
        config = tracker_config(DETECTOR)
    else:
        config = scaled_preset(score_scale if score_scale > 0 else 1.0)
    gt: list[FrameBoxes] = []
    hyp: list[FrameBoxes] = []
    by_sequence: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        by_sequence.setdefault(sample.sequence, []).append(index)
    for number, indices in enumerate(by_sequence.values()):
        if not all(
            samples[i].track_ids is not None and (samples[i].track_ids >= 0).all()  # type: ignore[operator]
            for i in indices
        ):
            continue
        if not any(len(samples[i].boxes) for i in indices):
            continue
        tracker = ByteTracker(config, frame_rate=fps, upright_labels=upright)
        offset = number * 1_000_000  # ids of different sequences never meet
        for i in indices:
            result = results[i]
            out = tracker.update(result.boxes, result.scores, result.classes)
            gt_ids = samples[i].track_ids
            assert gt_ids is not None
            gt.append(FrameBoxes(gt_ids + offset, result.gt_boxes))
            hyp.append(FrameBoxes(out.ids + offset, out.boxes))
    return gt, hyp


def validate(
    model: NanoDet,
    samples: list[Sample],
    starting: bool = False,
    fps: float = VAL_TRACK_FPS,
    upright: Sequence[int] | None = None,
) -> Validation:
    """Loss, mAP@0.5, score scale and tracking scores of `model` on `samples`, one un-augmented
    image at a time in sequence order, tracked at `fps`; the `starting` model is tracked with the
    stock preset."""
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
    gt, hyp = tracked_frames(samples, results, None if starting else scale, fps, upright)
    return Validation(
        float(np.mean(losses)),
        mean_ap(results, model.num_classes),
        scale,
        score_tracks(gt, hyp) if gt else None,
        (gt, hyp) if gt else None,
    )


def _epoch_result(
    epoch: int, train_loss: float, validation: Validation, seconds: float, gain: Gain | None = None
) -> EpochResult:
    tracking = validation.tracking
    margins = (gain.idf1_margin, gain.hota_margin) if gain else (0.0, 0.0)
    return EpochResult(
        epoch,
        train_loss,
        validation.loss,
        validation.map50,
        seconds,
        validation.score_scale,
        tracking.idf1 if tracking else _NAN,
        tracking.hota if tracking else _NAN,
        tracking.mota if tracking else _NAN,
        tracking.id_switches if tracking else _NAN,
        *margins,
    )


def _rank(result: EpochResult) -> tuple[float, ...]:
    """Higher is better: tracking first (when measured), then mAP, then lower loss."""
    if result.tracked:
        return (
            round((result.val_idf1 + result.val_hota) / 2, 6),
            round(result.val_mota, 6),
            round(result.val_map50, 6),
            -result.val_loss,
        )
    return round(result.val_map50, 6), -result.val_loss


def eligible(result: EpochResult, start: EpochResult) -> bool:
    """The guard: a fine-tuned epoch must track the validation frames better than the starting
    model (epoch 0) on IDF1 and on HOTA by more than its margins (`guard.tracking_gain`), with no
    more ID switches; without track ids, it must detect at least as well by mAP@0.5."""
    if result.epoch == 0:
        return True
    if start.tracked and result.tracked:
        return (
            result.val_idf1 - start.val_idf1 > result.idf1_margin
            and result.val_hota - start.val_hota > result.hota_margin
            and not result.val_id_switches > start.val_id_switches
        )
    return result.val_map50 >= start.val_map50 - 1e-6


def _better(result: EpochResult, best: EpochResult, start: EpochResult) -> bool:
    return eligible(result, start) and _rank(result) > _rank(best)


def train(
    model: NanoDet,
    train_samples: list[Sample],
    val_samples: list[Sample],
    config: TrainConfig,
    log: Callable[[str], None] = print,
    on_epoch: Callable[[list[EpochResult], NanoDet], None] | None = None,
    upright: Sequence[int] | None = None,
) -> TrainResult:
    """Fine-tune `model` in place (on CUDA when torch sees a GPU); return the best weights (on
    the CPU) and the per-epoch history. `on_epoch` sees the history after each fine-tuned
    epoch (that epoch last) and its model (a benchmark keeps candidates the guard refused).
    `upright`: the labels the tracker's width/height bound applies to in validation
    (`upright_labels(class names)`, as the engine does; None: every label)."""
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
    start = validate(model, val_samples, starting=True, fps=config.val_fps, upright=upright)
    start_loo = None
    if start.frames:
        gt, start_hyp = start.frames
        start_loo = leave_one_out(gt, start_hyp, blocks(len(gt)))
    history = [_epoch_result(0, _NAN, start, time.perf_counter() - started)]
    log(history[0].metrics_line())
    if not history[0].tracked:
        log(
            "note: the validation labels carry no track ids (detection-only labels); the "
            "checkpoint is selected by validation mAP@0.5, not by tracking (IDF1/HOTA)"
        )
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
        validation = validate(model, val_samples, fps=config.val_fps, upright=upright)
        gain = None
        if start.frames and validation.frames:
            gain = tracking_gain(start.frames[0], start.frames[1], validation.frames[1], start_loo)
        seconds = time.perf_counter() - started
        result = _epoch_result(epoch, float(np.mean(losses)), validation, seconds, gain)
        history.append(result)
        log(result.metrics_line())
        if on_epoch is not None:
            on_epoch(history, model)
        if _better(result, history[best_epoch], history[0]):
            best_state, best_epoch, stale = _cpu_state(model), epoch, 0
        else:
            stale += 1
            if stale >= config.patience:
                log(f"early_stop=1; epoch={epoch}; best_epoch={best_epoch};")
                break
    best = history[best_epoch]
    line = f"best_epoch={best_epoch}; best_val_map50={best.val_map50:.5f};"
    if best.tracked:
        line += f" best_val_idf1={best.val_idf1:.5f}; best_val_hota={best.val_hota:.5f};"
    log(line)
    outcome = TrainResult(best_state, best_epoch, history)
    if outcome.kept_starting_model:
        log(kept_start_message(history))
    model.to("cpu")
    return outcome


def kept_start_message(history: list[EpochResult]) -> str:
    """Why the starting model is exported: the best fine-tuned epoch's gains against its margins."""
    start = history[0]
    if not start.tracked:
        return (
            "kept_starting_model=1; no fine-tuned epoch detected the validation frames at least "
            f"as well as the starting model (mAP@0.5 {start.val_map50:.3f}); exporting the "
            "starting model."
        )
    top = max(history[1:], key=_rank)
    return (
        "kept_starting_model=1; no fine-tuned epoch tracked the validation frames better than "
        "the starting model by more than the noise margin on both IDF1 and HOTA without more ID "
        f"switches (start: IDF1 {start.val_idf1:.3f}, HOTA {start.val_hota:.3f}, "
        f"{start.val_id_switches:.0f} ID switches; best fine-tuned, epoch {top.epoch}: IDF1 "
        f"{top.val_idf1 - start.val_idf1:+.3f} (margin {top.idf1_margin:.3f}), HOTA "
        f"{top.val_hota - start.val_hota:+.3f} (margin {top.hota_margin:.3f}), "
        f"{top.val_id_switches:.0f} ID switches); exporting the starting model."
    )


def _cpu_state(model: NanoDet) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
