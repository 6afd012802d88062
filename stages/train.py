"""Train one grid point, with a checkpoint at each listed epoch: python -m stages.train POINT.

A run killed or stopped (Ctrl-C, SIGTERM) keeps its state in runs/POINT/.train.partial and the
next run continues from it when nothing that determines the run changed (sgm.training.resume).

With train.nproc_per_node x train.nnodes > 1 the stage checks its inputs, then re-executes itself
under torchrun (sgm.training.launch): DistributedDataParallel, rank 0 writes, and every process
waits for rank 0 to finish writing before it exits, so DVC on any machine of the job finds the
outputs. Several machines share the checkout (a shared filesystem); the other machines run
`python -m stages.train POINT` there while one runs DVC (docs/scaling.md).
It says which device it trains on, and the CUDA_VISIBLE_DEVICES it was given (stages.queue_workers).
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch
from dvclive import Live

from sgm.checkpoints.inference import load_for_inference
from sgm.checkpoints.model import build_model
from sgm.core.losses import DenoisingScoreMatching
from sgm.core.spectral_loss import SpectralTerm
from sgm.kinds.labels import label_vocabularies, tensor_labels
from sgm.progress import progress_bar
from sgm.training import distributed
from sgm.training.config import TrainConfig
from sgm.training.evaluation import evaluate_loss
from sgm.training.launch import torchrun_command
from sgm.training.loop import TrainingDiverged, TrainingStopped, train
from sgm.training.resume import FINGERPRINT_FILE, drop_log_rows_after, fingerprint, resume_point
from stages.common.outputs import StageError, atomic_dir, grid_point_argument, partial_dir, run_stage, stop_requests, write_json
from stages.common.params import RUN_SETTINGS, load_params
from stages.common.paths import (
    TENSORS_DIR,
    TENSORS_METRICS_FILE,
    checkpoint_file,
    checkpoint_name,
    read_label_names,
    split_file,
    train_dir,
    train_metrics_file,
)


def model_config(params, point: str, in_channels: int, conditioning: dict) -> dict:
    """The plain configuration every checkpoint of `point` stores (sgm.checkpoints.model)."""
    arch, settings = params.archs[params.grid[point].arch], params.train
    distance = json.loads(TENSORS_METRICS_FILE.read_text()).get("max_pairwise_distance")
    if settings.sde.sigma_max == "auto" and distance is None:
        raise StageError(f"train.sde.sigma_max is 'auto' but {TENSORS_METRICS_FILE} has no max_pairwise_distance: rerun tensorize")
    return {
        "net": arch.net,
        "channels": arch.channels,
        "in_channels": in_channels,
        "embed_dim": arch.embed_dim,
        **({"attention_heads": arch.attention_heads} if arch.attention_heads else {}),
        "sde": {"name": settings.sde.name, **settings.sde.kwargs(distance)},
        "conditioning": conditioning,
        "precond": settings.precond.model_dump(include={"name", "sigma_data"}),
    }


def training_config(params, point: str) -> TrainConfig:
    settings = params.train
    return TrainConfig(
        lr=params.grid[point].lr,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        seed=params.seed,
        loss=DenoisingScoreMatching(settings.loss_weighting, (settings.precond.log_sigma_mean, settings.precond.log_sigma_std), spectral=spectral_term(settings.spectral_loss)),
        lr_schedule=settings.lr_schedule,
        lr_decay_fraction=settings.lr_decay_fraction,
        ema_decay=settings.ema_decay,
        grad_clip=settings.grad_clip,
        label_dropout=settings.label_dropout,
        compile=settings.compile,
        fast_path=settings.fast_path,
        log_every=settings.log_every,
        crop_samples=settings.crop_samples,
        save_every_steps=settings.save_every_steps,
        save_every_seconds=None if settings.save_every_minutes is None else 60 * settings.save_every_minutes,
    )


def spectral_term(settings) -> SpectralTerm | None:
    """The loss's STFT term, None at weight 0 (the plain score-matching loss)."""
    return SpectralTerm(settings.weight, settings.sigma_max, tuple(settings.fft_sizes)) if settings.weight else None


def run_fingerprint(params, point: str) -> dict:
    """What determines the training of `point`: the params it reads (not how often it saves), data and code."""
    grid_point = params.grid[point]
    read = {
        "seed": params.seed,
        "train": params.train.model_dump(mode="json", exclude=set(RUN_SETTINGS)),
        "grid_point": grid_point.model_dump(mode="json"),
        "arch": params.archs[grid_point.arch].model_dump(mode="json"),
    }
    return fingerprint(read, TENSORS_DIR)


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "train")
    settings = params.train
    label_names = read_label_names()
    train_set = {key: values[: settings.max_examples] for key, values in torch.load(split_file("train"), weights_only=True).items()}
    test_set = {key: values[: settings.test_examples] for key, values in torch.load(split_file("test"), weights_only=True).items()}
    data = train_set["x"]
    conditioning = label_vocabularies(settings.conditioning, train_set, label_names)

    torch.manual_seed(params.seed)
    config = model_config(params, point, data.shape[1], conditioning)
    try:
        net, sde = build_model(config)
    except ValueError as err:
        raise StageError(f"grid point {point}: {err}") from None
    train_labels = tensor_labels(conditioning, train_set, label_names)
    test_labels = tensor_labels(conditioning, test_set, label_names)
    recipe = training_config(params, point)
    try:
        launch = torchrun_command(["stages.train", point], settings.nproc_per_node, settings.nnodes, os.environ)
    except ValueError as err:
        raise StageError(str(err)) from None
    if launch is not None:
        sys.stdout.flush()
        os.execv(launch[0], launch)  # torchrun in this process's place: DVC's signals reach it and its workers

    partial = partial_dir(train_dir(point))
    here = distributed.world()

    def fit(checkpoint_dir, log=None, stop=None, on_checkpoint=None):
        try:
            return train(net, sde, data, recipe, checkpoint_dir, config, labels=train_labels, log=log, on_checkpoint=on_checkpoint, stop=stop)
        except TrainingDiverged as err:
            raise StageError(f"{point}: {err}") from None
        except TrainingStopped as err:
            raise StageError(f"{point}: stopped after step {err.step} (epoch {err.epoch}); {partial} keeps the state and the next run resumes from it") from None

    if not here.is_main:  # rank 0 decides whether to resume and writes everything; the others read its last.pt
        with stop_requests() as stop:
            fit(partial / "checkpoints", stop=stop)
        distributed.close(here)
        return

    current = run_fingerprint(params, point)
    resume_step, account = resume_point(partial, current)
    if account:
        print(f"train@{point}: {account}", file=sys.stderr)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    processes = "" if here.size == 1 else f", {here.size} processes"
    shown = "" if visible is None else f" (CUDA_VISIBLE_DEVICES={visible})"
    print(f"train@{point}: on {distributed.device_for(None, here)}{processes}{shown}", file=sys.stderr)
    resuming = resume_step is not None
    with (
        atomic_dir(train_dir(point), keep_failed=True, reuse=resuming) as out,
        Live(str(out / "live"), dvcyaml=False, save_dvc_exp=False, resume=resuming) as live,
        stop_requests() as stop,
    ):
        write_json(out / FINGERPRINT_FILE, current)
        if resuming:
            drop_log_rows_after(out / "live", resume_step)

        steps_per_epoch = len(data) // settings.batch_size
        bar = progress_bar(total=settings.epochs[-1] * steps_per_epoch, initial=resume_step or 0, desc=f"train@{point}", unit="step")

        def log(step, metrics):
            show_progress(bar, step, metrics, steps_per_epoch, settings.epochs[-1])
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        started, minutes = time.perf_counter(), {}

        def timed(epoch, path):
            minutes[epoch] = (time.perf_counter() - started) / 60

        train_loss = fit(out / "checkpoints", log, stop, timed)
        bar.close()
        (out / "checkpoints" / "last.pt").unlink()  # only for resuming; the epoch checkpoints hold the same
        (out / FINGERPRINT_FILE).unlink()
        metrics = {}
        for epoch in settings.epochs:
            ema_net, _, _ = load_for_inference(checkpoint_file(out, epoch))
            test_loss = evaluate_loss(ema_net, sde, test_set["x"], settings.batch_size, params.seed, recipe.loss, test_labels)
            # minutes of this process: a resumed run counts from where it resumed, and has none for checkpoints written before
            timing = {"train_minutes": minutes[epoch]} if epoch in minutes else {}
            metrics[checkpoint_name(epoch)] = {"train_loss": train_loss[epoch], "test_loss": test_loss, **timing}
        write_json(out / train_metrics_file(point).name, metrics)
    distributed.close(here)


def show_progress(bar, step: int, metrics: dict, steps_per_epoch: int, epochs: int) -> None:
    """Move the training bar to `step`, showing the epoch and, at log points, the loss and samples/s."""
    bar.update(step - bar.n)
    if "train_loss" in metrics:
        epoch = (step - 1) // steps_per_epoch + 1
        bar.set_postfix_str(f"epoch {epoch}/{epochs}, loss {metrics['train_loss']:.4g}, {metrics['samples_per_second']:.1f} samples/s")


if __name__ == "__main__":
    run_stage(main)
