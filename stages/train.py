"""Train one grid point, with a checkpoint at each listed epoch: python -m stages.train POINT."""

from __future__ import annotations

import sys

import torch
from dvclive import Live

from sgm.nets import build_net
from sgm.sde import make_sde
from sgm.train import evaluate_loss, load_for_inference, train
from stages.common import TENSORS_DIR, StageError, atomic_dir, checkpoint_name, run_stage, train_dir, write_json
from stages.config import load_params


def main() -> None:
    params = load_params()
    point = sys.argv[1] if len(sys.argv) == 2 else None
    if point not in params.grid:
        raise StageError(f"usage: python -m stages.train POINT, with POINT one of: {', '.join(params.grid)}")
    arch = params.archs[params.grid[point].arch]
    settings = params.train

    train_set = torch.load(TENSORS_DIR / "train.pt", weights_only=True)
    test_set = torch.load(TENSORS_DIR / "test.pt", weights_only=True)
    data = train_set["x"][: settings.max_examples]

    torch.manual_seed(params.seed)
    config = {
        "net": arch.net,
        "channels": arch.channels,
        "in_channels": data.shape[1],
        "embed_dim": arch.embed_dim,
        "num_classes": 0,
        "sde": {"name": settings.sde.name, **settings.sde.kwargs()},
    }
    net = build_net(arch.net, arch.channels, blocks=arch.blocks, in_channels=data.shape[1], embed_dim=arch.embed_dim)
    sde = make_sde(settings.sde.name, **settings.sde.kwargs())

    with atomic_dir(train_dir(point)) as out, Live(str(out / "live"), dvcyaml=False, save_dvc_exp=False) as live:

        def log(step, metrics):
            live.step = step
            for name, value in metrics.items():
                live.log_metric(name, value)

        train(
            net,
            sde,
            data,
            lr=params.grid[point].lr,
            batch_size=settings.batch_size,
            epochs=settings.epochs,
            checkpoint_dir=out / "checkpoints",
            seed=params.seed,
            ema_decay=settings.ema_decay,
            grad_clip=settings.grad_clip,
            loss_weighting=settings.loss_weighting,
            compile=settings.compile,
            log=log,
            log_every=settings.log_every,
            config=config,
        )
        losses = {}
        for epoch in settings.epochs:
            ema_net, _ = load_for_inference(out / "checkpoints" / f"{checkpoint_name(epoch)}.pt")
            losses[checkpoint_name(epoch)] = {
                name: evaluate_loss(ema_net, sde, split, settings.batch_size, params.seed, settings.loss_weighting)
                for name, split in (("train_loss", data), ("test_loss", test_set["x"]))
            }
        write_json(out / "metrics.json", losses)


if __name__ == "__main__":
    run_stage(main)
