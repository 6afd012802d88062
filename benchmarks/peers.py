"""This project's 1-D U-Net against the nets users would pick instead, side by side on the same clips:

    python -m benchmarks.peers [--config default|tiny] [--device cpu|cuda] [--out DIR]

The peers are optional (`pip install -e '.[peers]'`), never runtime dependencies:
  audio-diffusion-pytorch  UNetV0 with its v-diffusion objective and VSampler, the pitch label through
                           its cross-attention (an embedding of one token per label);
  diffusers                UNet1DModel, the Dance Diffusion net, with the same v-objective and a v-DDIM
                           loop (one net pass a step); its API takes no class labels, so it is unconditional.
Net sizes are as close to this project's default net (params.yaml's arch, 2.2 M parameters) as the
peers' block structures allow; the table gives each one's parameter count. Each contender trains
(its own loss, backward, Adam) at the default run's batch on the default run's clips
(data/tensors/train.pt when it exists, else seeded random clips of that shape) and samples with the
same number of net evaluations (the default Heun's 35), in float32 and under bf16 autocast; the
contenders take turns in every round and the table gives medians with the ratio to this project.
It writes peers.json and peers.md into --out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from sgm.checkpoints.model import build_model
from sgm.core.losses import DenoisingScoreMatching
from sgm.core.samplers import sample
from sgm.core.score import score_fn_from_net

PEER_PACKAGES = ("audio_diffusion_pytorch", "diffusers")
TENSORS = Path("data/tensors/train.pt")
HEUN = {"steps": 18, "rho": 7.0, "eps": 1e-3}  # params.yaml's sample.heun: 2 * 18 - 1 = 35 net evaluations
NFE = 2 * HEUN["steps"] - 1


@dataclass(frozen=True)
class Plan:
    channels: list[int]  # this project's net; the peers' widths follow from it
    length: int
    batch: int
    sample_batch: int
    steps: int  # training steps per timed window
    rounds: int  # timed rounds after one warm-up round


PLANS = {
    "default": Plan([32, 64, 128, 256], 16384, 16, 4, 2, 3),
    "tiny": Plan([64, 128], 1024, 4, 2, 1, 1),  # the Dance Diffusion net's attention needs 32 channels a head
}


@dataclass
class Contender:
    name: str
    net: torch.nn.Module
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (clips, labels) -> scalar loss
    draw: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (noise, labels) -> samples, NFE net passes
    conditioning: str
    denoiser: torch.nn.Module | None = None  # the module a draw calls once per net evaluation (default: net)

    def passes(self, noise, labels) -> tuple[int, torch.Tensor]:
        """How many times one draw calls the denoiser, and the draw."""
        calls = []
        hook = (self.denoiser or self.net).register_forward_hook(lambda *_: calls.append(1))
        with torch.no_grad():
            out = self.draw(noise, labels)
        hook.remove()
        return len(calls), out


def this_project(plan: Plan, classes: int, device) -> Contender:
    config = {
        "net": "unet1d", "channels": plan.channels, "in_channels": 1, "embed_dim": 256,
        "sde": {"name": "ve", "sigma_min": 0.002, "sigma_max": 80.0},
        "conditioning": {"pitch": list(range(classes))}, "precond": {"name": "edm", "sigma_data": 0.5},
    }  # fmt: skip
    net, sde = build_model(config)
    net.to(device)
    objective = DenoisingScoreMatching("edm", (-1.2, 1.2))

    def draw(noise, labels):
        return sample("heun", score_fn_from_net(net, sde, labels[:, None]), sde, noise * sde.prior_std, HEUN)[0]

    return Contender("sgm (this project)", net, lambda x, y: objective(net, sde, x, class_labels=y[:, None]), draw, "pitch label (embedding)")


def v_objective(predict: Callable, x: torch.Tensor) -> torch.Tensor:
    """audio-diffusion-pytorch's v-diffusion: sigma ~ U(0, 1), x_sigma = cos x + sin z, target cos z - sin x."""
    sigmas = torch.rand(len(x), device=x.device)
    alpha, beta = (f(sigmas * math.pi / 2).view(-1, 1, 1) for f in (torch.cos, torch.sin))
    noise = torch.randn_like(x)
    return F.mse_loss(predict(alpha * x + beta * noise, sigmas), alpha * noise - beta * x)


def v_ddim(predict: Callable, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """The v-sampler of audio-diffusion-pytorch (VSampler): `steps` net passes from sigma 1 to 0."""
    sigmas = torch.linspace(1, 0, steps + 1, device=noise.device)
    x = noise
    for here, there in zip(sigmas[:-1], sigmas[1:]):
        alpha, beta = torch.cos(here * math.pi / 2), torch.sin(here * math.pi / 2)
        v = predict(x, here.expand(len(x)))
        clean, direction = alpha * x - beta * v, beta * x + alpha * v
        x = torch.cos(there * math.pi / 2) * clean + torch.sin(there * math.pi / 2) * direction
    return x


def audio_diffusion_pytorch(plan: Plan, classes: int, device) -> Contender:
    from audio_diffusion_pytorch import DiffusionModel, UNetV0, VDiffusion, VSampler

    levels = len(plan.channels)
    model = DiffusionModel(
        net_t=UNetV0, in_channels=1, channels=plan.channels, factors=[1] + [4] * (levels - 1), items=[1] * levels,
        attentions=[0] * (levels - 1) + [1], cross_attentions=[0] * (levels - 1) + [1], attention_heads=4,
        attention_features=32, embedding_features=32, embedding_max_length=1, modulation_features=128,
        diffusion_t=VDiffusion, sampler_t=VSampler,
    ).to(device)  # fmt: skip
    labels_in = torch.nn.Embedding(classes, 32).to(device)
    model.add_module("labels_in", labels_in)  # trained with the net

    def embedding(y):
        return labels_in(y).unsqueeze(1)  # (batch, 1 token, features)

    return Contender(
        "audio-diffusion-pytorch UNetV0", model,
        lambda x, y: model(x, embedding=embedding(y)),
        lambda noise, y: model.sample(noise, num_steps=NFE, embedding=embedding(y)),
        "pitch label (cross-attention)", model.net,
    )  # fmt: skip


def diffusers_dance(plan: Plan, classes: int, device) -> Contender:
    from diffusers import UNet1DModel

    levels = len(plan.channels)
    net = UNet1DModel(
        sample_size=plan.length, in_channels=1, out_channels=1, extra_in_channels=16, time_embedding_dim=16,
        block_out_channels=tuple(c // 2 for c in plan.channels), norm_num_groups=min(8, plan.channels[0] // 2),
        down_block_types=("DownBlock1DNoSkip",) + ("DownBlock1D",) * (levels - 2) + ("AttnDownBlock1D",),
        up_block_types=("AttnUpBlock1D",) + ("UpBlock1D",) * (levels - 2) + ("UpBlock1DNoSkip",),
        mid_block_type="UNetMidBlock1D",
    ).to(device)  # fmt: skip

    def predict(x, sigmas):
        return net(x, sigmas).sample

    return Contender(
        "diffusers UNet1DModel (Dance Diffusion)", net, lambda x, y: v_objective(predict, x), lambda noise, y: v_ddim(predict, noise, NFE),
        "none (the API takes no class labels)",
    )  # fmt: skip


CONTENDERS = [this_project, audio_diffusion_pytorch, diffusers_dance]


def clips(plan: Plan, device) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The default run's training clips and pitch codes, or seeded random ones of the plan's shape."""
    if TENSORS.exists():
        data = torch.load(TENSORS, weights_only=True)
        if data["x"].shape[-1] == plan.length and len(data["x"]) >= plan.batch:
            codes = torch.unique(data["pitch"], return_inverse=True)[1]
            return data["x"][: plan.batch].to(device), codes[: plan.batch].to(device), str(TENSORS)
    generator = torch.Generator().manual_seed(0)
    x = 0.5 * torch.randn(plan.batch, 1, plan.length, generator=generator)
    return x.to(device), torch.randint(0, 12, (plan.batch,), generator=generator).to(device), "seeded random clips"


def now(device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def train_window(contender: Contender, optimizer, x, y, plan: Plan, autocast) -> float:
    """Samples/s of `plan.steps` optimizer steps."""
    start = now(x.device)
    for _ in range(plan.steps):
        with autocast():
            loss = contender.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return plan.steps * len(x) / (now(x.device) - start)


def draw_seconds(contender: Contender, noise, y, autocast) -> float:
    """Seconds per note of one draw of len(noise) notes."""
    start = now(noise.device)
    with torch.no_grad(), autocast():
        contender.draw(noise, y)
    return (now(noise.device) - start) / len(noise)


def measure(plan: Plan, device: torch.device) -> dict:
    torch.manual_seed(0)
    x, y, source = clips(plan, device)
    classes = int(y.max()) + 1
    contenders = [make(plan, classes, device) for make in CONTENDERS]
    optimizers = [torch.optim.Adam(c.net.parameters(), lr=1e-4) for c in contenders]
    noise = torch.randn(plan.sample_batch, 1, plan.length, generator=torch.Generator().manual_seed(1)).to(device)
    checks = {c.name: c.passes(noise, y[: plan.sample_batch]) for c in contenders}
    rows = []
    for precision in ("float32", "bf16 autocast"):

        def autocast(bf16=precision != "float32"):
            return torch.autocast(device.type, torch.bfloat16, enabled=bf16)

        timings = [{"train": [], "sample": []} for _ in contenders]
        for round_ in range(plan.rounds + 1):  # the first round warms up
            for contender, optimizer, times in zip(contenders, optimizers, timings):
                rate = train_window(contender, optimizer, x, y, plan, autocast)
                seconds = draw_seconds(contender, noise, y[: plan.sample_batch], autocast)
                if round_:
                    times["train"].append(rate)
                    times["sample"].append(seconds)
        ours = None
        for contender, times in zip(contenders, timings):
            row = {
                "contender": contender.name, "precision": precision,
                "parameters": sum(p.numel() for p in contender.net.parameters()), "conditioning": contender.conditioning,
                "train_samples_per_second": statistics.median(times["train"]), "seconds_per_note": statistics.median(times["sample"]),
                "net_passes_per_draw": checks[contender.name][0], "draw_finite": bool(checks[contender.name][1].isfinite().all()),
            }  # fmt: skip
            ours = ours or row
            row["train_ratio"] = row["train_samples_per_second"] / ours["train_samples_per_second"]
            row["sample_ratio"] = row["seconds_per_note"] / ours["seconds_per_note"]
            rows.append(row)
    return {"device": str(device), "plan": plan.__dict__, "data": source, "nfe": NFE, "threads": torch.get_num_threads(), "rows": rows}


def markdown(result: dict) -> str:
    plan = result["plan"]
    lines = [
        f"Training at batch {plan['batch']} on 1 x {plan['length']} clips ({result['data']}); sampling {plan['sample_batch']} notes "
        f"at once with {result['nfe']} net evaluations; {result['device']}, {result['threads']} threads; medians of {plan['rounds']} rounds.",
        "",
        "| contender | precision | parameters | conditioning | training samples/s | x this project | seconds a note | x this project |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['contender']} | {row['precision']} | {row['parameters'] / 1e6:.2f} M | {row['conditioning']} | "
            f"{row['train_samples_per_second']:.2f} | {row['train_ratio']:.2f} | {row['seconds_per_note']:.3f} | {row['sample_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(PLANS), default="default")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results"))
    args = parser.parse_args(argv)
    missing = [name for name in PEER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        parser.error(f"{', '.join(missing)} not installed: pip install -e '.[peers]'")
    result = measure(PLANS[args.config], torch.device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "peers.md").write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
