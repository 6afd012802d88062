"""Train a score network by denoising score matching, with EMA weights and resumable checkpoints.

`train` is the whole loop in one function (nanoGPT style) and its fast path is in plain sight:
bf16 autocast, channels_last and torch.compile as `sgm.fastpath.choose` picks them for the
device (on CUDA all three; on a CPU with native bf16, bf16 and channels_last), and on CUDA the
data set resident on the GPU when it fits, a fused Adam, and no host synchronisation between
log points.

Reproducibility: the example order of epoch e is a permutation drawn from (seed, e), and the
noise (t, z) of the loss comes from one torch.Generator per rank whose state is checkpointed,
so a run stopped and resumed from `last.pt` ends with the same weights as an uninterrupted one
(bitwise on the CPU; on CUDA up to nondeterministic kernels).

Checkpoints (torch.load(..., weights_only=True): tensors and plain Python data only):
  {"config", "model", "ema", "optimizer", "step", "epoch", "rng", "batch_in_epoch",
   "epoch_loss_sums", "train_loss"}
`epoch_NNN.pt` is written after each listed epoch; `last.pt` after every epoch, every
`save_every_steps` steps or `save_every_seconds` seconds, and when `max_steps` or `stop()` ends
the run mid-epoch, so a killed run loses at most that much work.
"""

from __future__ import annotations

import copy
import os
import pickle
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from sgm import distributed, fastpath
from sgm.conditioning import drop_labels
from sgm.crops import random_crops
from sgm.losses import WEIGHTINGS, dsm_loss
from sgm.lr_schedule import SCHEDULES, learning_rate
from sgm.model import REQUIRED_KEYS, build_model
from sgm.sde import SDE

CHECKPOINT_KEYS = ("config", "model", "ema", "optimizer", "step", "epoch", "rng")
COMPILE_MODES = ("auto", "on", "off")
ORDER_STREAM, NOISE_STREAM = 0, 1
NO_STEP = torch.iinfo(torch.int64).max


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step. Checkpoints written before stay."""


class TrainingStopped(Exception):
    """`stop()` asked training to end; `last.pt` holds the state at `step`, from which `train` resumes."""

    def __init__(self, step: int, epoch: int):
        super().__init__(f"stopped on request after step {step} (in epoch {epoch}); last.pt holds the state to resume from")
        self.step, self.epoch = step, epoch


class SaveSchedule:
    """When to write last.pt in the middle of an epoch: every `every_steps` steps, every
    `every_seconds` seconds, or as soon as `stop()` returns True; all ranks agree on it."""

    def __init__(self, every_steps: int | None, every_seconds: float | None, stop: Callable[[], bool] | None, here: distributed.World):
        self.every_steps, self.every_seconds, self.stop, self.here = every_steps, every_seconds, stop, here
        self.last_save = time.monotonic()
        self.stopping = False

    def due(self, step: int) -> bool:
        """Whether to save after optimizer step `step`; sets `stopping` when a stop was asked for."""
        if self.every_steps is None and self.every_seconds is None and self.stop is None:
            return False
        stopping = self.stop is not None and self.stop()
        due = (
            stopping
            or (self.every_steps is not None and step % self.every_steps == 0)
            or (self.every_seconds is not None and time.monotonic() - self.last_save >= self.every_seconds)
        )
        flags = distributed.min_over_ranks(torch.tensor([not due, not stopping]), self.here)  # any rank's yes is everyone's
        self.stopping = not bool(flags[1])
        return not bool(flags[0])

    def saved(self) -> None:
        self.last_save = time.monotonic()


def derived_seed(seed: int, stream: int, index: int) -> int:
    """An independent 64-bit seed for (seed, stream, index), e.g. the data order of one epoch."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1, np.uint64)[0])


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The order in which epoch `epoch` (0-based) visits the n examples: a function of (seed, epoch) alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed(seed, ORDER_STREAM, epoch)))


def noise_generator(seed: int, rank: int, device: torch.device) -> torch.Generator:
    """The generator of the loss's (t, z) draws on one rank (each rank draws for its own examples)."""
    return torch.Generator(device).manual_seed(derived_seed(seed, NOISE_STREAM, rank))


def rank_batches(n: int, batch_size: int, seed: int, epoch: int, here: distributed.World) -> torch.Tensor:
    """(steps, batch_size // world size) example indices of this rank for each step of an epoch.

    Each step takes the next batch_size examples of the epoch's order; rank r takes the r-th
    contiguous part of it. The last partial batch is dropped (a different one each epoch), so
    every step has the same shape, which torch.compile likes.
    """
    steps = n // batch_size
    per_rank = batch_size // here.size
    batches = epoch_order(n, seed, epoch)[: steps * batch_size].view(steps, batch_size)
    return batches[:, here.rank * per_rank : (here.rank + 1) * per_rank]


def ema_decay_at(step: int, decay: float) -> float:
    """The EMA decay at optimizer step `step` (1-based): `decay`, warmed up as min(decay, (1 + step) / (10 + step)).

    Without the warm-up an average with decay 0.999 is still ~97% the random initial weights after
    the 32 steps of a short CPU run; with it, short runs average their recent weights and long runs
    reach `decay` after about 10 / (1 - decay) steps.
    """
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for the parameters; buffers are copied."""
    torch._foreach_lerp_(list(ema.parameters()), list(net.parameters()), 1 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), net.buffers()):
        ema_buffer.copy_(buffer)


def save_checkpoint(state: dict, path: Path) -> Path:
    """Write `state` to `path` atomically: a temporary file beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path, required=CHECKPOINT_KEYS, map_location="cpu") -> dict:
    """Load a checkpoint with weights_only=True; ValueError naming the file when it is damaged or incomplete."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"checkpoint {path} does not exist") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"checkpoint {path} is unreadable (truncated, corrupted or not a torch checkpoint): {type(err).__name__}") from None
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}; a checkpoint holds {list(required)}")
    return state


def check_train_args(*, data, labels, label_dropout, epochs, batch_size, lr, lr_schedule, lr_decay_fraction, crop_samples, ema_decay, grad_clip, loss_weighting, compile, log_every, max_steps, seed, config, world_size, fast_path="auto", save_every_steps=None, save_every_seconds=None) -> None:
    """ValueError listing every bad argument of `train` at once."""
    problems = []
    if not isinstance(data, torch.Tensor) or not data.is_floating_point() or data.dim() < 2:
        problems.append(f"data must be a float tensor (N, C, ...), got {type(data).__name__} {getattr(data, 'shape', '')}")
    elif not torch.isfinite(data).all():
        problems.append("data contains NaN or infinite values")
    n = len(data) if isinstance(data, torch.Tensor) else 0
    if labels is not None and (not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.dim() != 2 or len(labels) != n):
        problems.append(f"labels must be an int64 tensor of shape ({n}, kinds), got {getattr(labels, 'dtype', type(labels).__name__)} {getattr(labels, 'shape', '')}")
    if not 0 <= label_dropout < 1:
        problems.append(f"label_dropout must lie in [0, 1), got {label_dropout}")
    if not epochs or any(not isinstance(e, int) or e < 1 for e in epochs) or list(epochs) != sorted(set(epochs)):
        problems.append(f"epochs must be a non-empty strictly ascending list of positive integers, got {epochs}")
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size % world_size or batch_size > n:
        problems.append(f"batch_size must be a positive multiple of the world size {world_size} and at most the {n} examples, got {batch_size}")
    if not lr > 0:
        problems.append(f"lr must be positive, got {lr}")
    if lr_schedule not in SCHEDULES:
        problems.append(f"lr_schedule {lr_schedule!r} is not one of {SCHEDULES}")
    if not 0 < lr_decay_fraction <= 1:
        problems.append(f"lr_decay_fraction must lie in (0, 1], got {lr_decay_fraction}")
    if crop_samples is not None and (not isinstance(data, torch.Tensor) or data.dim() != 3 or not 0 < crop_samples <= data.shape[-1]):
        problems.append(f"crop_samples must be None or a length in [1, L] of 1-D data (N, C, L), got {crop_samples} for shape {tuple(getattr(data, 'shape', ()))}")
    if not 0 <= ema_decay < 1:
        problems.append(f"ema_decay must lie in [0, 1), got {ema_decay}")
    if grad_clip is not None and not grad_clip > 0:
        problems.append(f"grad_clip must be positive or None, got {grad_clip}")
    if loss_weighting not in WEIGHTINGS:
        problems.append(f"loss_weighting {loss_weighting!r} is not one of {WEIGHTINGS}")
    if compile not in COMPILE_MODES:
        problems.append(f"compile {compile!r} is not one of {COMPILE_MODES}")
    if not isinstance(fast_path, fastpath.FastPath) and fast_path not in fastpath.MODES:
        problems.append(f"fast_path {fast_path!r} is not one of {fastpath.MODES}")
    if save_every_steps is not None and (not isinstance(save_every_steps, int) or save_every_steps < 1):
        problems.append(f"save_every_steps must be a positive integer or None, got {save_every_steps}")
    if save_every_seconds is not None and not save_every_seconds > 0:
        problems.append(f"save_every_seconds must be positive or None, got {save_every_seconds}")
    if not isinstance(log_every, int) or log_every < 1:
        problems.append(f"log_every must be a positive integer, got {log_every}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 0):
        problems.append(f"max_steps must be a non-negative integer or None, got {max_steps}")
    if not isinstance(seed, int) or seed < 0:
        problems.append(f"seed must be a non-negative integer, got {seed}")
    if not isinstance(config, dict) or any(key not in config for key in REQUIRED_KEYS) or "name" not in config.get("sde", {}):
        problems.append(f"config must be a dict with keys {REQUIRED_KEYS} and config['sde']['name'], got {config}")
    if problems:
        raise ValueError("bad arguments to train: " + "; ".join(problems))


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether a data set of nbytes can live on `device` and leave at least half its free memory."""
    return device.type != "cuda" or nbytes < torch.cuda.mem_get_info(device)[0] // 2


def train(
    net: torch.nn.Module,
    sde: SDE,
    data: torch.Tensor,
    *,
    lr: float,
    batch_size: int,
    epochs: list[int],
    checkpoint_dir,
    seed: int,
    config: dict,
    lr_schedule: str = "constant",
    lr_decay_fraction: float = 1.0,
    crop_samples: int | None = None,
    ema_decay: float = 0.999,
    grad_clip: float | None = 1.0,
    loss_weighting: str = "study",
    labels: torch.Tensor | None = None,
    label_dropout: float = 0.0,
    log_sigma: tuple[float, float] = (-1.2, 1.2),
    device=None,
    compile: str = "auto",
    fast_path: str | fastpath.FastPath = "auto",
    log: Callable[[int, dict], None] | None = None,
    log_every: int = 50,
    on_checkpoint: Callable[[int, Path], None] | None = None,
    max_steps: int | None = None,
    save_every_steps: int | None = None,
    save_every_seconds: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[int, float]:
    """Train `net` in place with Adam on the DSM loss; return {epoch: mean train loss} of all finished epochs.

    The step size follows `lr_schedule` (sgm.lr_schedule: constant, or a linear or cosine decay to
    zero over the last `lr_decay_fraction` of the epochs[-1] epochs' steps). With `crop_samples`,
    each 1-D example is trained on as a random window of that many samples (sgm.crops).
    Resumes from `checkpoint_dir/last.pt` when present (its config must equal `config`).
    `max_steps` stops after that many optimizer steps in all (resumed ones included) and
    writes `last.pt`, so "N steps" equals "N/2 steps, then resume with N". `last.pt` is also
    written every `save_every_steps` steps and every `save_every_seconds` seconds, and when
    `stop()` (asked after each step, e.g. "was SIGTERM received?") returns True, after which
    TrainingStopped is raised. `fast_path` (auto|on|off) and `compile` pick bf16 autocast,
    channels_last and torch.compile (see sgm.fastpath). `log(step, metrics)`
    is called every `log_every` steps (loss, learning rate, throughput) and at each epoch's end
    (epoch, its mean loss), and `on_checkpoint(epoch, path)` after each epoch_NNN.pt,
    on rank 0 only. `batch_size` is the global batch, split evenly over the ranks of a
    `torchrun` launch. A NaN/inf loss raises TrainingDiverged naming its step: checked every
    step on the CPU, every `log_every` steps and before each checkpoint on CUDA (where a check
    costs a host sync); nothing is written after a bad step.
    """
    here = distributed.world()
    check_train_args(
        data=data, labels=labels, label_dropout=label_dropout, epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
        lr_decay_fraction=lr_decay_fraction, crop_samples=crop_samples, ema_decay=ema_decay, grad_clip=grad_clip,
        loss_weighting=loss_weighting, compile=compile, log_every=log_every, max_steps=max_steps, seed=seed,
        config=config, world_size=here.size, fast_path=fast_path, save_every_steps=save_every_steps,
        save_every_seconds=save_every_seconds,
    )
    device = distributed.device_for(device, here)
    distributed.init(here, device)
    checkpoint_dir = Path(checkpoint_dir)
    if here.is_main:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)

    cuda = device.type == "cuda"
    speed = fastpath.choose(fast_path, compile, device, data.dim())
    memory_format = speed.memory_format(data.dim())
    net.to(device, memory_format=memory_format)
    ema = copy.deepcopy(net).requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, fused=cuda)
    noise = noise_generator(seed, here.rank, device)
    step, epochs_done, batches_done, train_loss = 0, 0, 0, {}
    epoch_loss_sum = torch.zeros((), device=device)

    last = checkpoint_dir / "last.pt"
    if last.exists():
        state = read_checkpoint(last, map_location=device)
        if state["config"] != config:
            raise ValueError(f"{last} was written for config {state['config']}, not {config}: use a fresh checkpoint_dir")
        if len(state["rng"]["noise"]) != here.size:
            raise ValueError(f"{last} was written by {len(state['rng']['noise'])} processes; resume it with as many, not {here.size}")
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        noise.set_state(state["rng"]["noise"][here.rank].cpu())
        step, epochs_done, batches_done = state["step"], state["epoch"], state["batch_in_epoch"]
        epoch_loss_sum.fill_(state["epoch_loss_sums"][here.rank])
        train_loss = dict(state["train_loss"])

    nbytes = data.nbytes + (0 if labels is None else labels.nbytes)
    data_device = device if fits_on_device(nbytes, device) else torch.device("cpu")
    data = data.to(data_device)
    labels = None if labels is None else labels.to(data_device)
    model = net
    if here.size > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if cuda else None)
    if speed.compile:
        model = torch.compile(model)
    autocast = speed.autocast(device)
    saves = SaveSchedule(save_every_steps, save_every_seconds, stop, here)
    steps_per_epoch = len(data) // batch_size
    total_steps = epochs[-1] * steps_per_epoch
    check_every = log_every if cuda else 1
    nonfinite_at = torch.full((), NO_STEP, device=device)  # the first step whose loss was NaN/inf

    def raise_if_diverged() -> None:
        bad_step = int(distributed.min_over_ranks(nonfinite_at, here))
        if bad_step != NO_STEP:
            raise TrainingDiverged(
                f"training diverged: the loss was NaN or infinite at step {bad_step} "
                f"(epoch {(bad_step - 1) // steps_per_epoch + 1}); checkpoints in {checkpoint_dir} stop before it"
            )

    def snapshot() -> dict:
        """The full training state (collective: every rank contributes its noise state and loss sum)."""
        per_rank = distributed.gather((noise.get_state(), float(epoch_loss_sum)), here)
        return {
            "config": config,
            "model": net.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "epoch": epochs_done,
            "rng": {"noise": [rng for rng, _ in per_rank]},
            "batch_in_epoch": batches_done,
            "epoch_loss_sums": [loss_sum for _, loss_sum in per_rank],
            "train_loss": train_loss,
        }

    def save_mid_epoch() -> None:
        """Write last.pt now (after checking the loss), then raise TrainingStopped if a stop was asked for."""
        raise_if_diverged()
        state = snapshot()
        if here.is_main:
            save_checkpoint(state, last)
        saves.saved()
        if saves.stopping:
            raise TrainingStopped(step, epochs_done + 1)

    window_loss_sum, window_start, window_steps = torch.zeros((), device=device), time.perf_counter(), 0
    while epochs_done < epochs[-1]:
        batches = rank_batches(len(data), batch_size, seed, epochs_done, here).to(data_device)
        for batch in batches[batches_done:]:
            if step == max_steps:
                raise_if_diverged()
                state = snapshot()
                if here.is_main:
                    save_checkpoint(state, last)
                return train_loss
            step += 1
            x = data[batch].to(device, non_blocking=True).contiguous(memory_format=memory_format)
            if crop_samples is not None:
                x = random_crops(x, crop_samples, noise)
            y = None if labels is None else drop_labels(labels[batch].to(device, non_blocking=True), net.embed.num_classes, label_dropout, noise)
            with autocast:
                loss = dsm_loss(model, sde, x, weighting=loss_weighting, class_labels=y, generator=noise, log_sigma_mean=log_sigma[0], log_sigma_std=log_sigma[1])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            step_lr = learning_rate(step, total_steps, lr, lr_schedule, lr_decay_fraction)
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            optimizer.step()
            update_ema(ema, net, ema_decay_at(step, ema_decay))

            loss = loss.detach()
            nonfinite_at = torch.where(loss.isfinite(), nonfinite_at, nonfinite_at.clamp(max=step))
            epoch_loss_sum += loss
            window_loss_sum += loss
            window_steps += 1
            batches_done += 1
            if step % check_every == 0:
                raise_if_diverged()
            if batches_done < len(batches) and saves.due(step):
                save_mid_epoch()
            if step % log_every == 0 and here.is_main and log is not None:
                window_loss = window_loss_sum.item() / window_steps
                seconds = time.perf_counter() - window_start
                log(step, {"train_loss": window_loss, "lr": step_lr, "samples_per_second": window_steps * batch_size / seconds})
                window_loss_sum.zero_()
                window_start, window_steps = time.perf_counter(), 0

        raise_if_diverged()
        epochs_done, batches_done = epochs_done + 1, 0
        train_loss[epochs_done] = float(distributed.mean_over_ranks(epoch_loss_sum, here)) / steps_per_epoch
        epoch_loss_sum.zero_()
        if here.is_main and log is not None:
            log(step, {"epoch": epochs_done, "epoch_train_loss": train_loss[epochs_done]})
        state = snapshot()
        if here.is_main:
            save_checkpoint(state, last)
            if epochs_done in epochs:
                path = save_checkpoint(state, checkpoint_dir / f"epoch_{epochs_done:03d}.pt")
                if on_checkpoint is not None:
                    on_checkpoint(epochs_done, path)
    return train_loss


def load_for_inference(path, device=None) -> tuple[torch.nn.Module, SDE, dict]:
    """The EMA net of a checkpoint, in eval mode without gradients, its SDE and its label
    vocabularies ({kind: values}; {} for an unconditional net).

    Device: `device`, else CUDA when present, else CPU. ValueError naming the file when it is
    damaged, incomplete or does not match the net its config describes.
    """
    state = read_checkpoint(path, required=("config", "ema"))
    config = state["config"]
    if not isinstance(config, dict) or any(key not in config for key in REQUIRED_KEYS):
        raise ValueError(f"checkpoint {path} has config {config}; expected a dict with keys {REQUIRED_KEYS}")
    try:
        net, sde = build_model(config)
        net.load_state_dict(state["ema"])
    except (ValueError, RuntimeError, TypeError) as err:
        raise ValueError(f"checkpoint {path} does not describe a usable net and SDE: {err}") from None
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return net.to(device).eval().requires_grad_(False), sde, config.get("conditioning") or {}


@torch.no_grad()
def evaluate_loss(
    net: torch.nn.Module,
    sde: SDE,
    data: torch.Tensor,
    batch_size: int,
    seed: int,
    weighting: str = "study",
    labels: torch.Tensor | None = None,
    log_sigma: tuple[float, float] = (-1.2, 1.2),
) -> float:
    """Mean DSM loss per example over `data` in order, with (t, z) drawn from a generator seeded by `seed`.

    The same (net, data, seed) always gives the same number on a given device: a test loss.
    Runs in float32 on the net's device.
    """
    if len(data) == 0 or batch_size < 1:
        raise ValueError(f"evaluate_loss needs data and a positive batch_size, got {len(data)} examples and batch_size={batch_size}")
    device = next(net.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    total = torch.zeros((), device=device, dtype=torch.float64)
    for start in range(0, len(data), batch_size):
        x = data[start : start + batch_size].to(device)
        y = None if labels is None else labels[start : start + batch_size].to(device)
        loss = dsm_loss(net, sde, x, weighting=weighting, class_labels=y, generator=generator, log_sigma_mean=log_sigma[0], log_sigma_std=log_sigma[1])
        total += loss * len(x)
    return float(total) / len(data)
