"""Is this project fast on a GPU and no slower on the CPU than the way the study trained and sampled?

    python -m benchmarks.run [--device cuda|cpu] [--config tiny|study] [--out DIR]

In one run it measures
  training: samples/s of `sgm.train.train` against a reference loop written as the study
            trained (Song's tutorial: fp32, CPU DataLoader over a TensorDataset, batch 32,
            Adam, per-step .item()), same net and loss; median over timed windows after warm-up;
  sampling: `sgm.sampling.probability_flow_ode` against scipy's solve_ivp(RK45) driving the
            same net through float64 numpy arrays (as the tutorial did), equal rtol/atol;
  on CUDA:  model FLOP utilisation (3 x forward FLOPs x samples/s over a measured bf16 matmul
            rate) and the peak memory of each of the study's 2-D nets (params.yaml `archs`).
It writes benchmark.json and benchmark.md into --out. It imports neither librosa nor DVC.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.integrate import solve_ivp
from torch.utils.data import DataLoader, TensorDataset

from sgm.losses import dsm_loss, score_fn_from_net
from sgm.nets import build_net, count_flops
from sgm.sampling import probability_flow_drift, probability_flow_ode
from sgm.sde import make_sde
from sgm.train import train

SDE = {"name": "tutorial_ve", "sigma": 25.0}
LR = 1e-4
STUDY_BATCH = 32


@dataclass(frozen=True)
class Plan:
    """What to measure: the net, input size, batch sizes and how long to time."""

    channels: list[int]
    size: int
    batch_sizes: list[int]  # for this project's loop; the reference loop uses the study's 32
    window_steps: int  # training steps per timed window
    warmup_windows: int
    windows: int
    rounds: int  # the loops (and samplers) take turns this many times, against drifting machine load
    samples: int
    rtol: float
    atol: float
    memory_batch: int


def make_plan(config: str, device: torch.device) -> Plan:
    if config == "tiny":
        return Plan([8, 16], 16, [STUDY_BATCH], 2, 1, 2, 1, 2, 1e-3, 1e-3, 8)
    if device.type == "cuda":
        return Plan([128, 256, 512, 1024], 128, [STUDY_BATCH, 256], 20, 2, 5, 1, 16, 1e-5, 1e-5, STUDY_BATCH)
    return Plan([32, 64, 128, 256], 128, [STUDY_BATCH], 1, 1, 2, 2, 1, 1e-3, 1e-3, STUDY_BATCH)


def now(device: torch.device) -> float:
    """Wall time after the device has finished all queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def fresh_net(plan: Plan, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net("unet2d", plan.channels).to(device)


def synthetic_data(n: int, plan: Plan) -> torch.Tensor:
    return 0.1 * torch.randn(n, 1, plan.size, plan.size, generator=torch.Generator().manual_seed(0))


def throughput(window_ends: list[float], plan: Plan, batch_size: int) -> dict:
    """samples/s of each timed window, from the wall times at which each window ended."""
    timed = window_ends[plan.warmup_windows - 1 :]
    return {"batch_size": batch_size, "window_samples_per_second": [batch_size * plan.window_steps / s for s in np.diff(timed)]}


def project_training(net, plan: Plan, batch_size: int, device: torch.device) -> dict:
    """sgm.train.train for warm-up + timed windows; its log callback marks the end of each window."""
    window_ends = []
    steps = (plan.warmup_windows + plan.windows) * plan.window_steps
    data = synthetic_data(batch_size * (steps + 1), plan)  # one unfinished epoch: no checkpoint inside a window
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        train(net, make_sde(**SDE), data, lr=LR, batch_size=batch_size, epochs=[1], checkpoint_dir=checkpoint_dir,
              seed=0, config={"net": "unet2d", "channels": plan.channels, "sde": SDE}, device=device,
              log=lambda step, metrics: window_ends.append(now(device)), log_every=plan.window_steps, max_steps=steps)
    return {"loop": "project", **throughput(window_ends, plan, batch_size)}


def reference_training(net, plan: Plan, device: torch.device) -> dict:
    """The study's loop: fp32, DataLoader(shuffle) over a CPU TensorDataset, Adam, loss.item() every step."""
    sde = make_sde(**SDE)
    steps = (plan.warmup_windows + plan.windows) * plan.window_steps
    loader = DataLoader(TensorDataset(synthetic_data(STUDY_BATCH * steps, plan)), batch_size=STUDY_BATCH, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    window_ends = []
    for step, (x,) in enumerate(loader, start=1):
        x = x.to(device)
        loss = dsm_loss(net, sde, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
        if step % plan.window_steps == 0:
            window_ends.append(now(device))
    return {"loop": "reference", **throughput(window_ends, plan, STUDY_BATCH)}


def scipy_probability_flow(score_fn, sde, z: torch.Tensor, rtol: float, atol: float, eps: float):
    """The tutorial's ODE sampler: solve_ivp(RK45) on a flat float64 vector, torch float32 per call."""
    shape, device = z.shape, z.device

    def velocity(t, x):
        x = torch.tensor(x, device=device, dtype=torch.float32).reshape(shape)
        with torch.no_grad():
            return probability_flow_drift(score_fn, sde, x, t).cpu().numpy().reshape(-1).astype(np.float64)

    result = solve_ivp(velocity, (sde.T, eps), z.cpu().numpy().reshape(-1), rtol=rtol, atol=atol, method="RK45")
    return torch.tensor(result.y[:, -1], dtype=torch.float32).reshape(shape), result.nfev


def timed(run, device: torch.device):
    start = now(device)
    result = run()
    return result, now(device) - start


def sampling(plan: Plan, device: torch.device) -> dict:
    """Both ODE samplers on a fresh net from the same prior draw z, taking turns `rounds` times.

    Reports NFE, the fastest time of each and how far their samples differ.
    """
    sde, eps = make_sde(**SDE), 1e-3
    score_fn = score_fn_from_net(fresh_net(plan, device).eval(), sde)
    z = sde.prior_sampling((plan.samples, 1, plan.size, plan.size), generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        score_fn(z, torch.full((plan.samples,), sde.T, device=device))  # warm-up: kernels for this shape
    ours_seconds, theirs_seconds = [], []
    for _ in range(plan.rounds):
        (ours, nfe), seconds = timed(
            lambda: probability_flow_ode(score_fn, sde, z.shape, rtol=plan.rtol, atol=plan.atol, eps=eps, z=z), device
        )
        ours_seconds.append(seconds)
        (theirs, theirs_nfe), seconds = timed(lambda: scipy_probability_flow(score_fn, sde, z, plan.rtol, plan.atol, eps), device)
        theirs_seconds.append(seconds)
    return {
        "samples": plan.samples, "rtol": plan.rtol, "atol": plan.atol,
        "project": {"nfe": nfe, "seconds": min(ours_seconds), "all_seconds": ours_seconds},
        "solve_ivp": {"nfe": int(theirs_nfe), "seconds": min(theirs_seconds), "all_seconds": theirs_seconds},
        "speedup": min(theirs_seconds) / min(ours_seconds),
        "max_abs_difference": float((ours.cpu() - theirs).abs().max()),
    }


def bf16_matmul_flops(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """Measured dense bf16 matmul rate of the GPU in FLOP/s."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    a @ b
    start = now(device)
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (now(device) - start)


def study_archs(params_file: Path = Path("params.yaml")) -> dict[str, list[int]]:
    """The study's 2-D nets, read from params.yaml `archs` (1-D nets left out)."""
    archs = yaml.safe_load(params_file.read_text())["archs"]
    return {name: arch["channels"] for name, arch in archs.items() if arch.get("net", "unet2d") == "unet2d"}


def peak_memory(channels: list[int], plan: Plan, device: torch.device) -> dict:
    """Peak GPU memory of 3 training steps of sgm.train.train (no compile) at the study's batch size."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    row = {"channels": channels, "batch_size": plan.memory_batch}
    try:
        with tempfile.TemporaryDirectory() as checkpoint_dir:
            net = build_net("unet2d", channels)
            train(net, make_sde(**SDE), synthetic_data(4 * plan.memory_batch, plan), lr=LR, batch_size=plan.memory_batch,
                  epochs=[1], checkpoint_dir=checkpoint_dir, seed=0, config={"net": "unet2d", "channels": channels, "sde": SDE},
                  device=device, compile="off", max_steps=3)
        row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    except torch.cuda.OutOfMemoryError:
        row["peak_gib"] = None
        row["error"] = "out of memory"
    return row


def markdown(report: dict) -> str:
    """The report as markdown tables."""
    lines = [
        f"# Benchmark: {report['config']} config on {report['device_name']} (torch {report['torch']})", "",
        "| config | device | loop | batch | samples/s | ratio to reference | model FLOP utilisation | peak GPU memory (GiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    reference = report["training"][0]["samples_per_second"]
    for row in report["training"]:
        utilisation, peak = row.get("model_flop_utilisation"), row["peak_gib"]
        lines.append(
            f"| {report['config']} | {report['device']} | {row['loop']} | {row['batch_size']} | {row['samples_per_second']:.1f} "
            f"| {row['samples_per_second'] / reference:.2f} | {'-' if utilisation is None else f'{utilisation:.1%}'} "
            f"| {'-' if peak is None else f'{peak:.2f}'} |"
        )
    s = report["sampling"]
    lines += [
        "", f"Probability-flow ODE, {s['samples']} samples, rtol={s['rtol']}, atol={s['atol']}:", "",
        "| sampler | NFE | seconds |", "| --- | --- | --- |",
        f"| project probability_flow_ode | {s['project']['nfe']} | {s['project']['seconds']:.2f} |",
        f"| scipy solve_ivp RK45 | {s['solve_ivp']['nfe']} | {s['solve_ivp']['seconds']:.2f} |",
        "", f"Speed-up {s['speedup']:.2f}x; largest difference between their samples {s['max_abs_difference']:.3g}.",
    ]
    if report["memory"]:
        lines += ["", "| arch | channels | batch | peak GPU memory (GiB) |", "| --- | --- | --- | --- |"]
        for name, row in report["memory"].items():
            peak = row.get("error") or f"{row['peak_gib']:.2f}"
            lines.append(f"| {name} | {row['channels']} | {row['batch_size']} | {peak} |")
    return "\n".join(lines) + "\n"


def with_peak_memory(measure, device: torch.device) -> dict:
    """Run a training measurement and add its peak GPU memory in GiB (None on the CPU)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    row = measure()
    row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    return row


def training_rows(plan: Plan, device: torch.device) -> list[dict]:
    """The reference loop, then this project's at each batch size; the loops take turns `rounds` times.

    Each row's samples/s is the median over all its timed windows.
    """
    loops = [lambda: reference_training(fresh_net(plan, device), plan, device)]
    loops += [lambda b=b: project_training(fresh_net(plan, device), plan, b, device) for b in plan.batch_sizes]
    turns = [[with_peak_memory(loop, device) for loop in loops] for _ in range(plan.rounds)]
    rows = []
    for runs in zip(*turns):
        rates = [rate for run in runs for rate in run["window_samples_per_second"]]
        peaks = [run["peak_gib"] for run in runs]
        rows.append({**runs[0], "samples_per_second": statistics.median(rates), "window_samples_per_second": rates,
                     "peak_gib": None if None in peaks else max(peaks)})
    return rows


def speed(plan: Plan, device: torch.device) -> dict:
    """Training rows (reference first), model FLOP utilisation on CUDA, and the ODE sampler comparison."""
    training = training_rows(plan, device)
    result = {"training": training, "bf16_matmul_tflops": None}
    if device.type == "cuda":
        forward_flops = count_flops(fresh_net(plan, device), torch.zeros(1, 1, plan.size, plan.size, device=device))
        peak_rate = bf16_matmul_flops(device)
        result["bf16_matmul_tflops"] = peak_rate / 1e12
        for row in training:
            row["model_flop_utilisation"] = 3 * forward_flops * row["samples_per_second"] / peak_rate
    result["training_speedup"] = training[1]["samples_per_second"] / training[0]["samples_per_second"]
    result["sampling"] = sampling(plan, device)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--config", choices=["tiny", "study"], default="study")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available")
    plan = make_plan(args.config, device)
    cuda = device.type == "cuda"
    report = {
        "config": args.config,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "plan": asdict(plan),
        **speed(plan, device),
        "memory": None,
    }
    if cuda and args.config == "study":
        torch.compiler.reset()  # drop compiled graphs, and the nets they hold, before measuring memory
        report["memory"] = {name: peak_memory(channels, plan, device) for name, channels in study_archs().items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))
    (args.out / "benchmark.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
