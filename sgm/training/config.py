"""How a net is trained, as one plain object: what params.yaml's `train` section and a grid point say."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sgm.checkpoints.model import REQUIRED_KEYS
from sgm.core.losses import DenoisingScoreMatching
from sgm.nets import fastpath
from sgm.training.lr_schedule import SCHEDULES

COMPILE_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    """Everything `train` needs to know besides the net, the data and where to write.

    `batch_size` is the global batch, split evenly over the ranks of a `torchrun` launch. The step
    size follows `lr_schedule` (sgm.training.lr_schedule). With `crop_samples`, each 1-D example is
    trained on as a random window of that many samples (sgm.training.crops). `fast_path` and
    `compile` pick bf16 autocast, channels_last and torch.compile (sgm.nets.fastpath). `last.pt` is
    written every `save_every_steps` steps and `save_every_seconds` seconds as well as after each
    epoch; `max_steps` ends the run after that many optimizer steps in all (resumed ones included).
    """

    lr: float
    batch_size: int
    epochs: list[int]  # a checkpoint epoch_NNN.pt after each
    seed: int
    loss: DenoisingScoreMatching
    lr_schedule: str
    lr_decay_fraction: float
    ema_decay: float
    grad_clip: float | None
    label_dropout: float
    compile: str
    fast_path: str | fastpath.FastPath
    log_every: int
    crop_samples: int | None = None
    save_every_steps: int | None = None
    save_every_seconds: float | None = None
    max_steps: int | None = None


def check_training(config: TrainConfig, data, labels, model_config, world_size: int) -> None:
    """ValueError listing every problem of a training run at once: its config, data, labels and model config."""
    problems = []
    if not isinstance(data, torch.Tensor) or not data.is_floating_point() or data.dim() < 2:
        problems.append(f"data must be a float tensor (N, C, ...), got {type(data).__name__} {getattr(data, 'shape', '')}")
    elif not torch.isfinite(data).all():
        problems.append("data contains NaN or infinite values")
    n = len(data) if isinstance(data, torch.Tensor) else 0
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.dim() != 2 or len(labels) != n):
        problems.append(f"labels must be an int64 tensor of shape ({n}, kinds), got {getattr(labels, 'dtype', type(labels).__name__)} {getattr(labels, 'shape', '')}")
    if not 0 <= config.label_dropout < 1:
        problems.append(f"label_dropout must lie in [0, 1), got {config.label_dropout}")
    epochs = config.epochs
    if not epochs or any(not isinstance(e, int) or e < 1 for e in epochs) or list(epochs) != sorted(set(epochs)):
        problems.append(f"epochs must be a non-empty strictly ascending list of positive integers, got {epochs}")
    batch_size = config.batch_size
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size % world_size or batch_size > n:
        problems.append(f"batch_size must be a positive multiple of the world size {world_size} and at most the {n} examples, got {batch_size}")
    if not config.lr > 0:
        problems.append(f"lr must be positive, got {config.lr}")
    if config.lr_schedule not in SCHEDULES:
        problems.append(f"lr_schedule {config.lr_schedule!r} is not one of {SCHEDULES}")
    if not 0 < config.lr_decay_fraction <= 1:
        problems.append(f"lr_decay_fraction must lie in (0, 1], got {config.lr_decay_fraction}")
    crop = config.crop_samples
    if crop is not None and (not isinstance(data, torch.Tensor) or data.dim() != 3 or not 0 < crop <= data.shape[-1]):
        problems.append(f"crop_samples must be None or a length in [1, L] of 1-D data (N, C, L), got {crop} for shape {tuple(getattr(data, 'shape', ()))}")
    if not 0 <= config.ema_decay < 1:
        problems.append(f"ema_decay must lie in [0, 1), got {config.ema_decay}")
    if config.grad_clip is not None and not config.grad_clip > 0:
        problems.append(f"grad_clip must be positive or None, got {config.grad_clip}")
    if config.compile not in COMPILE_MODES:
        problems.append(f"compile {config.compile!r} is not one of {COMPILE_MODES}")
    if not isinstance(config.fast_path, fastpath.FastPath) and config.fast_path not in fastpath.MODES:
        problems.append(f"fast_path {config.fast_path!r} is not one of {fastpath.MODES}")
    if config.save_every_steps is not None and (not isinstance(config.save_every_steps, int) or config.save_every_steps < 1):
        problems.append(f"save_every_steps must be a positive integer or None, got {config.save_every_steps}")
    if config.save_every_seconds is not None and not config.save_every_seconds > 0:
        problems.append(f"save_every_seconds must be positive or None, got {config.save_every_seconds}")
    if not isinstance(config.log_every, int) or config.log_every < 1:
        problems.append(f"log_every must be a positive integer, got {config.log_every}")
    if config.max_steps is not None and (not isinstance(config.max_steps, int) or config.max_steps < 0):
        problems.append(f"max_steps must be a non-negative integer or None, got {config.max_steps}")
    if not isinstance(config.seed, int) or config.seed < 0:
        problems.append(f"seed must be a non-negative integer, got {config.seed}")
    if not isinstance(model_config, dict) or any(key not in model_config for key in REQUIRED_KEYS) or "name" not in model_config.get("sde", {}):
        problems.append(f"the model config must be a dict with keys {REQUIRED_KEYS} and config['sde']['name'], got {model_config}")
    if problems:
        raise ValueError("bad arguments to train: " + "; ".join(problems))
