"""Train a score network by denoising score matching, with EMA weights and resumable checkpoints.

`train` is the loop, read top to bottom: set up (or resume) the run, take steps, write checkpoints
by its policy, log. Its fast path is in plain sight in `set_up`: bf16 autocast, channels_last and
torch.compile as `sgm.nets.fastpath.choose` picks them for the device (on CUDA all three; on a CPU
with native bf16, bf16 and channels_last), and on CUDA the data set resident on the GPU when it
fits, a fused Adam, and no host synchronisation between log points.

Reproducibility: see sgm.training.order. A run stopped and resumed from `last.pt` ends with the
same weights as an uninterrupted one (bitwise on the CPU; on CUDA up to nondeterministic kernels),
and N processes train the run one process trains, up to float rounding: every rank takes the
whole global batch, draws its noise, and computes the loss of its own part of it.
`epoch_NNN.pt` is written after each listed epoch; `last.pt` after every epoch, on the
SaveSchedule and when `max_steps` or `stop()` ends the run mid-epoch (sgm.checkpoints.files).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.nn.parallel import DistributedDataParallel

from sgm.checkpoints.files import read_checkpoint, save_checkpoint
from sgm.core.labels import drop_labels
from sgm.core.sde import SDE
from sgm.nets import fastpath
from sgm.training import distributed
from sgm.training.config import TrainConfig, check_training
from sgm.training.crops import random_crops
from sgm.training.ema import ema_decay_at, update_ema
from sgm.training.lr_schedule import learning_rate
from sgm.training.order import epoch_batches, noise_generator
from sgm.training.saving import SaveSchedule

NO_STEP = torch.iinfo(torch.int64).max


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step. Checkpoints written before stay."""


class TrainingStopped(Exception):
    """`stop()` asked training to end; `last.pt` holds the state at `step`, from which `train` resumes."""

    def __init__(self, step: int, epoch: int):
        super().__init__(f"stopped on request after step {step} (in epoch {epoch}); last.pt holds the state to resume from")
        self.step, self.epoch = step, epoch


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether a data set of nbytes can live on `device` and leave at least half its free memory."""
    return device.type != "cuda" or nbytes < torch.cuda.mem_get_info(device)[0] // 2


@dataclass
class Run:
    """The state of one training run on one rank: what a checkpoint holds, and what steps it."""

    net: torch.nn.Module
    model: torch.nn.Module  # the net as stepped: wrapped in DDP and compiled where chosen
    ema: torch.nn.Module
    optimizer: torch.optim.Optimizer
    noise: torch.Generator  # in the same state on every rank (sgm.training.order)
    model_config: dict
    here: distributed.World
    step: int = 0
    epochs_done: int = 0
    batches_done: int = 0
    epoch_loss_sum: torch.Tensor | None = None  # of this rank's part of the epoch's batches
    train_loss: dict[int, float] = field(default_factory=dict)

    def snapshot(self) -> dict:
        """The full training state, the same for any number of ranks (collective: the loss sum is averaged over ranks)."""
        return {
            "config": self.model_config,
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epochs_done,
            "rng": {"noise": self.noise.get_state()},
            "batch_in_epoch": self.batches_done,
            "epoch_loss_sum": float(distributed.mean_over_ranks(self.epoch_loss_sum, self.here)),
            "train_loss": self.train_loss,
        }

    def restore(self, last: Path) -> None:
        """Continue from the state in `last` (last.pt), which must be this run's, written by any number of ranks."""
        state = read_checkpoint(last, map_location=self.epoch_loss_sum.device)
        if state["config"] != self.model_config:
            raise ValueError(f"{last} was written for config {state['config']}, not {self.model_config}: use a fresh checkpoint_dir")
        self.net.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.noise.set_state(state["rng"]["noise"].cpu())
        self.step, self.epochs_done, self.batches_done = state["step"], state["epoch"], state["batch_in_epoch"]
        self.epoch_loss_sum.fill_(state["epoch_loss_sum"])
        self.train_loss = dict(state["train_loss"])


def set_up(net, config: TrainConfig, model_config: dict, device: torch.device, dims: int, here: distributed.World):
    """The run's net on `device`, its EMA copy, optimizer and noise, on the fast path; and that fast path."""
    speed = fastpath.choose(config.fast_path, config.compile, device, dims)
    net.to(device, memory_format=speed.memory_format(dims))
    ema = copy.deepcopy(net).requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, fused=device.type == "cuda")
    model = net
    if here.size > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if speed.compile:
        model = torch.compile(model)
    noise = noise_generator(config.seed, device)
    run = Run(net, model, ema, optimizer, noise, model_config, here, epoch_loss_sum=torch.zeros((), device=device))
    return run, speed


def optimizer_step(run: Run, sde: SDE, x, y, config: TrainConfig, total_steps: int, autocast) -> tuple[torch.Tensor, float]:
    """One step of the loss on this rank's part of the global batch (x, labels y): Adam at the
    scheduled rate, then the EMA. Returns (this rank's loss, rate).

    The crops, dropped labels and loss noise are drawn for the whole global batch (sgm.training.order).
    """
    run.step += 1
    if config.crop_samples is not None:
        x = random_crops(x, config.crop_samples, run.noise)
    if y is not None:
        y = drop_labels(y, run.net.embed.num_classes, config.label_dropout, run.noise)
    with autocast:
        loss = config.loss(run.model, sde, x, class_labels=y, generator=run.noise, part=run.here.part(len(x)))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), config.grad_clip)
    rate = learning_rate(run.step, total_steps, config.lr, config.lr_schedule, config.lr_decay_fraction)
    for group in run.optimizer.param_groups:
        group["lr"] = rate
    run.optimizer.step()
    update_ema(run.ema, run.net, ema_decay_at(run.step, config.ema_decay))
    return loss.detach(), rate


class Divergence:
    """Keeps the first step whose loss was NaN or infinite, on the device, and raises when asked."""

    def __init__(self, device: torch.device, steps_per_epoch: int, checkpoint_dir: Path, here: distributed.World):
        self.first_bad = torch.full((), NO_STEP, device=device)
        self.steps_per_epoch, self.checkpoint_dir, self.here = steps_per_epoch, checkpoint_dir, here

    def record(self, loss: torch.Tensor, step: int) -> None:
        self.first_bad = torch.where(loss.isfinite(), self.first_bad, self.first_bad.clamp(max=step))

    def check(self) -> None:
        bad_step = int(distributed.min_over_ranks(self.first_bad, self.here))
        if bad_step != NO_STEP:
            raise TrainingDiverged(
                f"training diverged: the loss was NaN or infinite at step {bad_step} "
                f"(epoch {(bad_step - 1) // self.steps_per_epoch + 1}); checkpoints in {self.checkpoint_dir} stop before it"
            )


class StepLog:
    """The mean loss and samples/s of the steps since the last log point, for `log(step, metrics)`."""

    def __init__(self, device: torch.device, batch_size: int):
        self.batch_size = batch_size
        self.loss_sum, self.start, self.steps = torch.zeros((), device=device), time.perf_counter(), 0

    def add(self, loss: torch.Tensor) -> None:
        self.loss_sum += loss
        self.steps += 1

    def flush(self, rate: float) -> dict:
        metrics = {
            "train_loss": self.loss_sum.item() / self.steps,
            "lr": rate,
            "samples_per_second": self.steps * self.batch_size / (time.perf_counter() - self.start),
        }
        self.loss_sum.zero_()
        self.start, self.steps = time.perf_counter(), 0
        return metrics


def train(
    net: torch.nn.Module,
    sde: SDE,
    data: torch.Tensor,
    config: TrainConfig,
    checkpoint_dir,
    model_config: dict,
    labels: torch.Tensor | None = None,
    device=None,
    log: Callable[[int, dict], None] | None = None,
    on_checkpoint: Callable[[int, Path], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[int, float]:
    """Train `net` in place with Adam on `config.loss`; return {epoch: mean train loss} of all finished epochs.

    Resumes from `checkpoint_dir/last.pt` when present (its model config must equal `model_config`,
    the dict the checkpoints store). `stop()` is asked after each step (e.g. "was SIGTERM
    received?"); when it says yes, last.pt is written and TrainingStopped raised. `log(step,
    metrics)` is called every `config.log_every` steps (loss, learning rate, throughput) and at each
    epoch's end (epoch, its mean loss), and `on_checkpoint(epoch, path)` after each epoch_NNN.pt, on
    rank 0 only. A NaN/inf loss raises TrainingDiverged naming its step: checked every step on the
    CPU, every `log_every` steps and before each checkpoint on CUDA (where a check costs a host
    sync); nothing is written after a bad step.
    """
    here = distributed.world()
    check_training(config, data, labels, model_config, here.size)
    device = distributed.device_for(device, here)
    distributed.init(here, device)
    checkpoint_dir = Path(checkpoint_dir)
    if here.is_main:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
    run, speed = set_up(net, config, model_config, device, data.dim(), here)
    last = checkpoint_dir / "last.pt"
    if distributed.from_main(last.exists(), here):  # rank 0 decides; the others read the same file
        run.restore(last)

    data_device = device if fits_on_device(data.nbytes + (0 if labels is None else labels.nbytes), device) else torch.device("cpu")
    data = data.to(data_device)
    labels = None if labels is None else labels.to(data_device)
    memory_format, autocast = speed.memory_format(data.dim()), speed.autocast(device)
    saves = SaveSchedule(config.save_every_steps, config.save_every_seconds, stop, here)
    steps_per_epoch = len(data) // config.batch_size
    total_steps = config.epochs[-1] * steps_per_epoch
    check_every = config.log_every if device.type == "cuda" else 1
    divergence = Divergence(device, steps_per_epoch, checkpoint_dir, here)
    window = StepLog(device, config.batch_size)

    def save_last() -> None:
        """Write last.pt now, after checking the loss."""
        divergence.check()
        state = run.snapshot()
        if here.is_main:
            save_checkpoint(state, last)

    while run.epochs_done < config.epochs[-1]:
        batches = epoch_batches(len(data), config.batch_size, config.seed, run.epochs_done).to(data_device)
        for batch in batches[run.batches_done :]:
            if run.step == config.max_steps:
                save_last()
                return run.train_loss
            x = data[batch].to(device, non_blocking=True).contiguous(memory_format=memory_format)
            y = None if labels is None else labels[batch].to(device, non_blocking=True)
            loss, rate = optimizer_step(run, sde, x, y, config, total_steps, autocast)
            divergence.record(loss, run.step)
            run.epoch_loss_sum += loss
            window.add(loss)
            run.batches_done += 1
            if run.step % check_every == 0:
                divergence.check()
            if run.batches_done < len(batches) and saves.due(run.step):
                save_last()
                saves.saved()
                if saves.stopping:
                    raise TrainingStopped(run.step, run.epochs_done + 1)
            if run.step % config.log_every == 0 and here.is_main and log is not None:
                log(run.step, window.flush(rate))
        finish_epoch(run, steps_per_epoch, divergence, log)
        state = run.snapshot()
        if here.is_main:
            save_checkpoint(state, last)
            if run.epochs_done in config.epochs:
                path = save_checkpoint(state, checkpoint_dir / f"epoch_{run.epochs_done:03d}.pt")
                if on_checkpoint is not None:
                    on_checkpoint(run.epochs_done, path)
    return run.train_loss


def finish_epoch(run: Run, steps_per_epoch: int, divergence: Divergence, log) -> None:
    """Close an epoch: check the loss, record its mean over all ranks, log it."""
    divergence.check()
    run.epochs_done, run.batches_done = run.epochs_done + 1, 0
    run.train_loss[run.epochs_done] = float(distributed.mean_over_ranks(run.epoch_loss_sum, run.here)) / steps_per_epoch
    run.epoch_loss_sum.zero_()
    if run.here.is_main and log is not None:
        log(run.step, {"epoch": run.epochs_done, "epoch_train_loss": run.train_loss[run.epochs_done]})
