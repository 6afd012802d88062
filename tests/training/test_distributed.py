"""Two CPU processes (gloo) against one: the same global batch must train the same net.

Every rank draws the crops, dropped labels and loss noise of the whole global batch from one
generator and keeps its own part, so two processes train what one process trains, up to the float
rounding of averaging two half-batch gradients instead of taking one whole-batch gradient.
"""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sgm.checkpoints.files import read_checkpoint
from sgm.core.sde import make_sde
from sgm.nets.build import build_net
from sgm.training.distributed import World
from tests.helpers.reference_settings import fit

CLASSES = 3
CONFIG = {"net": "unet1d", "channels": [8, 16], "embed_dim": 16, "sde": {"name": "tutorial_ve", "sigma": 25.0}}
GLOBAL_BATCH, STEPS, EPOCHS, SEED, WORLD = 8, 3, 2, 0, 2
RECIPE = {"lr": 1e-2, "batch_size": GLOBAL_BATCH, "epochs": [1, EPOCHS], "grad_clip": 1.0, "seed": SEED, "config": CONFIG,
          "crop_samples": 24, "label_dropout": 0.3, "device": "cpu", "fast_path": "off"}  # fmt: skip


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net(CONFIG["net"], CONFIG["channels"], embed_dim=CONFIG["embed_dim"], num_classes=[CLASSES])


def waves() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(GLOBAL_BATCH * STEPS, 1, 32, generator=generator)
    return x, torch.randint(0, CLASSES, (len(x), 1), generator=generator)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, out_dir: str, max_steps: int | None) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    net = tiny_net()
    x, labels = waves()
    fit(net, make_sde(**CONFIG["sde"]), x, labels=labels, checkpoint_dir=out_dir, max_steps=max_steps, **RECIPE)
    torch.save(net.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def two_processes(out_dir, max_steps: int | None = None) -> list[dict]:
    mp.spawn(worker, args=(free_port(), str(out_dir), max_steps), nprocs=WORLD, join=True)
    return [torch.load(out_dir / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]


def one_process(out_dir) -> dict:
    net = tiny_net()
    x, labels = waves()
    fit(net, make_sde(**CONFIG["sde"]), x, labels=labels, checkpoint_dir=out_dir, **RECIPE)
    return net.state_dict()


def test_two_gloo_ranks_train_the_net_one_process_trains_on_the_same_global_batch(tmp_path):
    per_rank = two_processes(tmp_path / "two")
    reference = one_process(tmp_path / "one")
    for name, expected in reference.items():
        assert torch.equal(per_rank[0][name], per_rank[1][name]), name
        torch.testing.assert_close(per_rank[0][name], expected, rtol=1e-4, atol=1e-5)
    assert not torch.equal(reference["head.2.weight"], tiny_net().state_dict()["head.2.weight"])  # it trained
    two, one = (read_checkpoint(tmp_path / run / f"epoch_{EPOCHS:03d}.pt") for run in ("two", "one"))
    assert two["step"] == one["step"] == EPOCHS * STEPS
    assert torch.equal(two["rng"]["noise"], one["rng"]["noise"])  # the same draws, in the same order
    assert two["train_loss"].keys() == one["train_loss"].keys()
    for epoch, loss in one["train_loss"].items():
        assert abs(two["train_loss"][epoch] - loss) < 1e-4 * loss


def test_a_run_stopped_on_two_processes_resumes_on_one(tmp_path):
    two_processes(tmp_path / "resumed", max_steps=STEPS + 1)  # stopped one step into epoch 2
    assert read_checkpoint(tmp_path / "resumed" / "last.pt")["batch_in_epoch"] == 1
    resumed = one_process(tmp_path / "resumed")
    straight = one_process(tmp_path / "straight")
    for name, expected in straight.items():
        torch.testing.assert_close(resumed[name], expected, rtol=1e-4, atol=1e-5)


def test_each_rank_takes_a_disjoint_contiguous_part_of_the_global_batch():
    parts = [World(rank, 4, rank).part(12) for rank in range(4)]
    assert parts == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12)]
    assert World(0, 1, 0).part(12) == slice(0, 12)
