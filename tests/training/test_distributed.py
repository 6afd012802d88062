"""Two CPU processes (gloo) against one: the data-parallel step must average the ranks' gradients."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sgm.checkpoints.files import read_checkpoint
from sgm.core.sde import make_sde
from sgm.nets.build import build_net
from sgm.training.distributed import World
from sgm.training.order import noise_generator, rank_batches
from tests.helpers.reference_settings import dsm_loss, fit

CONFIG = {"net": "unet2d", "channels": [8, 16], "embed_dim": 16, "sde": {"name": "tutorial_ve", "sigma": 25.0}}
GLOBAL_BATCH, STEPS, SEED, LR, CLIP = 8, 3, 0, 1e-2, 1.0
WORLD = 2


def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net(CONFIG["net"], CONFIG["channels"], embed_dim=CONFIG["embed_dim"])


def data() -> torch.Tensor:
    return torch.randn(GLOBAL_BATCH * STEPS, 1, 16, 16, generator=torch.Generator().manual_seed(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    net = tiny_net()
    fit(net, make_sde(**CONFIG["sde"]), data(), lr=LR, batch_size=GLOBAL_BATCH, epochs=[1], grad_clip=CLIP,
          checkpoint_dir=out_dir, seed=SEED, config=CONFIG, device="cpu", fast_path="off")  # float32, as the reference
    torch.save(net.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def single_process_reference() -> dict:
    """One process taking the same global batches, with each half's loss drawn as its rank draws it, averaged."""
    net, sde, x = tiny_net(), make_sde(**CONFIG["sde"]), data()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    ranks = [World(rank, WORLD, rank) for rank in range(WORLD)]
    shards = [rank_batches(len(x), GLOBAL_BATCH, SEED, 0, here) for here in ranks]
    noises = [noise_generator(SEED, here.rank, torch.device("cpu")) for here in ranks]
    for step in range(STEPS):
        losses = [dsm_loss(net, sde, x[shard[step]], generator=noise) for shard, noise in zip(shards, noises)]
        optimizer.zero_grad()
        (sum(losses) / WORLD).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
        optimizer.step()
    return net.state_dict()


def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    per_rank = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]
    reference = single_process_reference()
    for name, expected in reference.items():
        assert torch.equal(per_rank[0][name], per_rank[1][name]), name
        torch.testing.assert_close(per_rank[0][name], expected, rtol=1e-5, atol=1e-6)
    assert not torch.equal(reference["head.weight"], tiny_net().state_dict()["head.weight"])
    checkpoint = read_checkpoint(tmp_path / "epoch_001.pt")
    assert checkpoint["step"] == STEPS and len(checkpoint["rng"]["noise"]) == WORLD
    assert not torch.equal(checkpoint["rng"]["noise"][0], checkpoint["rng"]["noise"][1])


def test_each_rank_takes_a_disjoint_part_of_every_global_batch():
    parts = [rank_batches(40, 8, SEED, 3, World(rank, 2, rank)) for rank in range(2)]
    assert parts[0].shape == parts[1].shape == (5, 4)
    together = torch.cat(parts, dim=1).flatten()
    assert sorted(together.tolist()) == sorted(set(together.tolist()))
    assert torch.equal(together, rank_batches(40, 8, SEED, 3, World(0, 1, 0)).flatten())
