"""Train one grid point, with a checkpoint at each listed epoch: python -m stages.train POINT.

On several GPUs: `torchrun --nproc_per_node N -m stages.train POINT` (DistributedDataParallel).
"""

from __future__ import annotations

import json
import tempfile
import time

import torch
from dvclive import Live

from sgm.distributed import world
from sgm.model import build_model
from sgm.train import TrainingDiverged, evaluate_loss, load_for_inference, train
from stages.common import (
    TENSORS_DIR,
    StageError,
    atomic_dir,
    checkpoint_file,
    checkpoint_name,
    grid_point_argument,
    run_stage,
    train_dir,
    train_metrics_file,
    write_json,
)
from stages.config import load_params
from stages.labels import label_vocabularies, tensor_labels


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "train")
    arch = params.archs[params.grid[point].arch]
    settings = params.train

    train_set = {key: values[: settings.max_examples] for key, values in torch.load(TENSORS_DIR / "train.pt", weights_only=True).items()}
    test_set = {key: values[: settings.test_examples] for key, values in torch.load(TENSORS_DIR / "test.pt", weights_only=True).items()}
    distance = json.loads((TENSORS_DIR / "metrics.json").read_text()).get("max_pairwise_distance")
    if settings.sde.sigma_max == "auto" and distance is None:
        raise StageError(f"train.sde.sigma_max is 'auto' but {TENSORS_DIR / 'metrics.json'} has no max_pairwise_distance: rerun tensorize")
    data = train_set["x"]
    conditioning = label_vocabularies(settings.conditioning, train_set, params.render.programs)

    torch.manual_seed(params.seed)
    config = {
        "net": arch.net,
        "channels": arch.channels,
        "in_channels": data.shape[1],
        "embed_dim": arch.embed_dim,
        "sde": {"name": settings.sde.name, **settings.sde.kwargs(distance)},
        "conditioning": conditioning,
        "precond": settings.precond.model_dump(include={"name", "sigma_data"}),
    }
    try:
        net, sde = build_model(config)
    except ValueError as err:
        raise StageError(f"grid point {point}: {err}") from None
    train_labels = tensor_labels(conditioning, train_set, params.render.programs)
    test_labels = tensor_labels(conditioning, test_set, params.render.programs)
    log_sigma = (settings.precond.log_sigma_mean, settings.precond.log_sigma_std)

    def fit(checkpoint_dir, log=None, on_checkpoint=None):
        try:
            return train(
                net,
                sde,
                data,
                lr=params.grid[point].lr,
                batch_size=settings.batch_size,
                epochs=settings.epochs,
                checkpoint_dir=checkpoint_dir,
                seed=params.seed,
                ema_decay=settings.ema_decay,
                grad_clip=settings.grad_clip,
                loss_weighting=settings.loss_weighting,
                labels=train_labels,
                label_dropout=settings.label_dropout,
                log_sigma=log_sigma,
                compile=settings.compile,
                log=log,
                log_every=settings.log_every,
                on_checkpoint=on_checkpoint,
                config=config,
            )
        except TrainingDiverged as err:
            raise StageError(f"{point}: {err}") from None

    if not world().is_main:  # a helper process of a torchrun launch: rank 0 writes everything
        with tempfile.TemporaryDirectory() as scratch:
            fit(scratch)
        return

    with atomic_dir(train_dir(point), keep_failed=True) as out, Live(str(out / "live"), dvcyaml=False, save_dvc_exp=False) as live:

        def log(step, metrics):
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        started, minutes = time.perf_counter(), {}

        def timed(epoch, path):
            minutes[epoch] = (time.perf_counter() - started) / 60

        train_loss = fit(out / "checkpoints", log, timed)
        (out / "checkpoints" / "last.pt").unlink()  # only for resuming; the epoch checkpoints hold the same
        test_data = test_set["x"]
        metrics = {}
        for epoch in settings.epochs:
            ema_net, _ = load_for_inference(checkpoint_file(out, epoch))
            test_loss = evaluate_loss(
                ema_net, sde, test_data, settings.batch_size, params.seed, settings.loss_weighting, test_labels, log_sigma
            )
            metrics[checkpoint_name(epoch)] = {"train_loss": train_loss[epoch], "test_loss": test_loss, "train_minutes": minutes[epoch]}
        write_json(out / train_metrics_file(point).name, metrics)

if __name__ == "__main__":
    run_stage(main)
