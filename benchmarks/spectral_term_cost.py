"""What the spectral term (train.spectral_loss) costs a training step: steps with and without it,
interleaved in one run, on the fast path the machine would train with.

    python -m benchmarks.spectral_term_cost [--steps 9] [--fast-path auto] [--arch b4-1d-32to256] [--weight 0.05]

Run in the project root: the net (archs.ARCH), sigma_data, the training noise levels and the
term's sigma_max and FFT sizes are params.yaml's; batches of 32 crops of 4096 samples, the EDM
loss and weighting, the term at --weight (0.05: rows 17k-17l of docs/diagnosis.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sgm.core.losses import DenoisingScoreMatching
from sgm.core.precond import EDMPrecond
from sgm.core.sde import VESDE
from sgm.core.spectral_loss import SpectralTerm
from sgm.nets import fastpath
from sgm.nets.build import build_net
from stages.common.params import load_params


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print and return the median seconds per step without and with the term."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=9, help="timed steps of each loss (after 2 warm-up steps)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--crop", type=int, default=4096)
    parser.add_argument("--fast-path", default="auto", choices=fastpath.MODES)
    parser.add_argument("--arch", default="b4-1d-32to256", help="a name under params.yaml's archs")
    parser.add_argument("--weight", type=float, default=0.05)
    args = parser.parse_args(argv)
    params = load_params()
    arch, precond, spectral = params.archs[args.arch], params.train.precond, params.train.spectral_loss
    torch.manual_seed(0)
    sde = VESDE(0.002, 80.0)
    net = EDMPrecond(build_net(arch.net, arch.channels, embed_dim=arch.embed_dim), sde, sigma_data=precond.sigma_data)
    log_sigma = (precond.log_sigma_mean, precond.log_sigma_std)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    speed = fastpath.choose(args.fast_path, "off", torch.device("cpu"), dims=3)
    x = 0.5 * torch.randn(args.batch, 1, args.crop)
    losses = {
        "without": DenoisingScoreMatching("edm", log_sigma),
        "with": DenoisingScoreMatching("edm", log_sigma, spectral=SpectralTerm(args.weight, spectral.sigma_max, tuple(spectral.fft_sizes))),
    }
    generator = torch.Generator().manual_seed(0)

    def step(loss) -> float:
        start = time.perf_counter()
        with speed.autocast(x.device):
            value = loss(net, sde, x, None, generator)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        return time.perf_counter() - start

    seconds = {name: [] for name in losses}
    for repeat in range(2 + args.steps):
        for name, loss in losses.items():
            elapsed = step(loss)
            if repeat >= 2:
                seconds[name].append(elapsed)
    without, with_term = (statistics.median(seconds[name]) for name in losses)
    print(f"{speed.describe()}, batch {args.batch} x {args.crop}, {torch.get_num_threads()} threads, median of {args.steps} steps each")
    print(f"s/step without the term {without:.3f}, with it {with_term:.3f}: ratio {with_term / without:.2f}")
    return {"without": without, "with": with_term}


if __name__ == "__main__":
    main()
