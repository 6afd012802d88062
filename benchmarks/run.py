"""Is this project fast on a GPU and no slower on the CPU than the way the study trained and sampled?

    python -m benchmarks.run [--device cuda|cpu] [--config tiny|study] [--out DIR]

In one run it measures
  training: samples/s of `sgm.training.loop.train` against a reference loop written as the study
            trained (Song's tutorial: fp32, CPU DataLoader over a TensorDataset, batch 32,
            Adam, per-step .item()), same net and loss; median over timed windows after warm-up,
            the loops taking turns. On the CPU each speed-up of sgm.nets.fastpath is added in turn
            (float32, + channels_last, + bf16 autocast, + torch.compile), for the study's 2-D net
            and for the 1-D net on 1 x 16384 waveforms, so each row shows its own gain;
  samplers: seconds per sample of every sampler as the sample stage ran them before the fast
            path (float32, no_grad) and on it (sgm.nets.fastpath.Accelerated, inference_mode);
  ODE:      `sgm.core.samplers.probability_flow_ode` against scipy's solve_ivp(RK45) driving the
            same net through float64 numpy arrays (as the tutorial did), equal rtol/atol;
  on CUDA:  model FLOP utilisation (3 x forward FLOPs x samples/s over a measured bf16 matmul
            rate) and the peak memory of each of the study's 2-D nets (presets/study-grid.yaml `archs`).
The study's settings (SDE, loss, training recipe, sampler settings) are in the table below the imports.
It writes benchmark.json and benchmark.md into --out. It imports neither librosa nor DVC.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.integrate import solve_ivp
from torch.utils.data import DataLoader, TensorDataset

from sgm.core.losses import DenoisingScoreMatching
from sgm.core.samplers import probability_flow_drift, probability_flow_ode, sample
from sgm.core.score import score_fn_from_net
from sgm.core.sde import make_sde
from sgm.nets import fastpath
from sgm.nets.build import build_net, count_flops
from sgm.nets.fastpath import FastPath
from sgm.training.config import TrainConfig
from sgm.training.loop import train

# The study's settings: presets/study-grid.yaml over params.yaml (the library has no defaults of its own).
SDE = {"name": "tutorial_ve", "sigma": 25.0}
LOSS = DenoisingScoreMatching("study")  # Song's tutorial: lambda = std^2
LR = 1e-4
STUDY_BATCH = 32
# the rest of the training recipe; the study is unconditional, so no labels are dropped
RECIPE = {"seed": 0, "lr_schedule": "constant", "lr_decay_fraction": 1.0, "ema_decay": 0.999, "grad_clip": 1.0, "label_dropout": 0.0}
SAMPLER_SETTINGS = {  # sample.<sampler> less the steps and the ODE's tolerances, which the Plan sets
    "euler_maruyama": {"eps": 1e-3},
    "predictor_corrector": {"snr": 0.16, "corrector_steps": 1, "eps": 1e-3},
    "probability_flow_ode": {"eps": 1e-3},
    "heun": {"rho": 7.0, "eps": 1e-3},  # params.yaml's: the study did not sample with Heun
}
STUDY_ARCHS = Path("presets/study-grid.yaml")  # the 2-D nets whose peak memory is measured on CUDA


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
    net: str = "unet2d"
    sampler_batch: int = 4  # samples per draw in the sampler comparison
    sampler_steps: int = 10  # steps of the fixed-step samplers there (seconds per sample scale with it)
    compile_rows: bool = True  # measure + torch.compile on the CPU (its compiling takes minutes on 2 cores)


def make_plan(config: str, device: torch.device) -> Plan:
    if config == "tiny":
        return Plan([8, 16], 16, [STUDY_BATCH], 2, 1, 2, 1, 2, 1e-3, 1e-3, 8, sampler_batch=2, sampler_steps=3, compile_rows=False)
    if device.type == "cuda":
        return Plan([128, 256, 512, 1024], 128, [STUDY_BATCH, 256], 20, 2, 5, 1, 16, 1e-5, 1e-5, STUDY_BATCH)
    return Plan([32, 64, 128, 256], 128, [STUDY_BATCH], 1, 1, 3, 2, 1, 1e-3, 1e-3, STUDY_BATCH)


def waveform_plan(plan: Plan, config: str) -> Plan:
    """The same measurement for the 1-D net on 1 x size**2 waveforms (1 x 16384 for the study's clips)."""
    return Plan(**{**asdict(plan), "net": "unet1d", "channels": plan.channels if config == "tiny" else [32, 64, 128, 256]})


def example_shape(plan: Plan, batch: int) -> tuple[int, ...]:
    return (batch, 1, plan.size, plan.size) if plan.net == "unet2d" else (batch, 1, plan.size**2)


# Each CPU row adds one speed-up to the row before it.
CPU_STEPS = {
    "unet2d": [
        ("float32", FastPath()),
        ("+ channels_last", FastPath(channels_last=True)),
        ("+ bf16 autocast", FastPath(channels_last=True, bf16=True)),
        ("+ torch.compile", FastPath(channels_last=True, bf16=True, compile=True)),
    ],
    "unet1d": [
        ("float32", FastPath()),
        ("+ bf16 autocast", FastPath(bf16=True)),
        ("+ torch.compile", FastPath(bf16=True, compile=True)),
    ],
}


def now(device: torch.device) -> float:
    """Wall time after the device has finished all queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def fresh_net(plan: Plan, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net(plan.net, plan.channels).to(device)


def train_config(batch_size: int, speed: FastPath | str, compile: str, log_every: int, max_steps: int) -> TrainConfig:
    """One epoch of the study's recipe, ended after `max_steps` steps."""
    return TrainConfig(lr=LR, batch_size=batch_size, epochs=[1], loss=LOSS, compile=compile, fast_path=speed, log_every=log_every,
                       max_steps=max_steps, **RECIPE)


def synthetic_data(n: int, plan: Plan) -> torch.Tensor:
    return 0.1 * torch.randn(example_shape(plan, n), generator=torch.Generator().manual_seed(0))


def throughput(window_ends: list[float], plan: Plan, batch_size: int) -> dict:
    """samples/s of each timed window, from the wall times at which each window ended."""
    timed = window_ends[plan.warmup_windows - 1 :]
    return {"batch_size": batch_size, "window_samples_per_second": [batch_size * plan.window_steps / s for s in np.diff(timed)]}


def project_training(net, plan: Plan, batch_size: int, device: torch.device, speed: FastPath | str = "auto", label: str = "project") -> dict:
    """sgm.training.loop.train for warm-up + timed windows; its log callback marks the end of each window."""
    window_ends = []
    steps = (plan.warmup_windows + plan.windows) * plan.window_steps
    data = synthetic_data(batch_size * (steps + 1), plan)  # one unfinished epoch: no checkpoint inside a window
    config = train_config(batch_size, speed, "auto", plan.window_steps, steps)
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        train(net, make_sde(**SDE), data, config, checkpoint_dir, {"net": plan.net, "channels": plan.channels, "sde": SDE},
              device=device, log=lambda step, metrics: window_ends.append(now(device)))
    return {"loop": label, **throughput(window_ends, plan, batch_size)}


def reference_training(net, plan: Plan, device: torch.device) -> dict:
    """The study's loop: fp32, DataLoader(shuffle) over a CPU TensorDataset, Adam, loss.item() every step."""
    sde = make_sde(**SDE)
    steps = (plan.warmup_windows + plan.windows) * plan.window_steps
    loader = DataLoader(TensorDataset(synthetic_data(STUDY_BATCH * steps, plan)), batch_size=STUDY_BATCH, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    window_ends = []
    for step, (x,) in enumerate(loader, start=1):
        x = x.to(device)
        loss = LOSS(net, sde, x)
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
    sde, eps = make_sde(**SDE), SAMPLER_SETTINGS["probability_flow_ode"]["eps"]
    score_fn = score_fn_from_net(fresh_net(plan, device).eval(), sde)
    z = sde.prior_sampling((plan.samples, 1, plan.size, plan.size), generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        score_fn(z, torch.full((plan.samples,), sde.T, device=device))  # warm-up: kernels for this shape
    ours_seconds, theirs_seconds = [], []
    for _ in range(plan.rounds):
        (ours, nfe), seconds = timed(lambda: probability_flow_ode(score_fn, sde, z, sde.T, eps, rtol=plan.rtol, atol=plan.atol), device)
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


def study_archs(archs_file: Path = STUDY_ARCHS) -> dict[str, dict]:
    """The study's 2-D nets (net, blocks, channels, embed_dim), read from the preset's `archs`."""
    archs = yaml.safe_load(archs_file.read_text())["archs"]
    return {name: arch for name, arch in archs.items() if arch["net"] == "unet2d"}


def peak_memory(arch: dict, plan: Plan, device: torch.device) -> dict:
    """Peak GPU memory of 3 training steps of sgm.training.loop.train (no compile) at the study's batch size."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    row = {"channels": arch["channels"], "batch_size": plan.memory_batch}
    try:
        with tempfile.TemporaryDirectory() as checkpoint_dir:
            net = build_net(arch["net"], arch["channels"], arch["blocks"], embed_dim=arch["embed_dim"])
            config = train_config(plan.memory_batch, "auto", "off", 1, 3)
            data = synthetic_data(4 * plan.memory_batch, plan)
            train(net, make_sde(**SDE), data, config, checkpoint_dir, {**arch, "sde": SDE}, device=device)
        row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    except torch.cuda.OutOfMemoryError:
        row["peak_gib"] = None
        row["error"] = "out of memory"
    return row


def training_table(report: dict, rows: list[dict], net: str) -> list[str]:
    lines = [
        "| config | net | device | loop | batch | samples/s | ratio to reference | gain over the row above | model FLOP utilisation | peak GPU memory (GiB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    reference = rows[0]["samples_per_second"]
    for row in rows:
        utilisation, peak, gain = row.get("model_flop_utilisation"), row["peak_gib"], row.get("gain")
        lines.append(
            f"| {report['config']} | {net} | {report['device']} | {row['loop']} | {row['batch_size']} | {row['samples_per_second']:.1f} "
            f"| {row['samples_per_second'] / reference:.2f} | {'-' if gain is None else f'{gain:.2f}'} "
            f"| {'-' if utilisation is None else f'{utilisation:.1%}'} | {'-' if peak is None else f'{peak:.2f}'} |"
        )
    return lines


def markdown(report: dict) -> str:
    """The report as markdown tables."""
    plan = report["plan"]
    lines = [f"# Benchmark: {report['config']} config on {report['device_name']} (torch {report['torch']}, {report['threads']} threads)", ""]
    lines += [f"Load average (1, 5, 15 min) before: {report['uptime_load_before']}, after: {report['uptime_load_after']}.", ""]
    lines += training_table(report, report["training"], f"unet2d {plan['channels']} 1x{plan['size']}x{plan['size']}")
    if report["training_1d"]:
        lines += ["", *training_table(report, report["training_1d"], f"unet1d 1x{plan['size'] ** 2}")]
    lines += [
        "", f"Samplers, {plan['sampler_batch']} samples per draw, {plan['sampler_steps']} steps (ODE: rtol = atol = {plan['rtol']}):", "",
        "| sampler | fast path | NFE before / fast | seconds per sample before | fast | speed-up | largest difference "
        "| fast + compile | speed-up | largest difference from fast |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["samplers"]:
        compiled = (
            f"| {row['compiled']['seconds_per_sample']:.3f} | {row['speedup_compiled']:.2f}x | {row['compiled_vs_fast_max_abs_difference']:.3g} |"
            if "compiled" in row else "| - | - | - |"
        )  # fmt: skip
        lines.append(
            f"| {row['sampler']} | {row['fast_path']} | {row['before']['nfe']} / {row['fast']['nfe']} | {row['before']['seconds_per_sample']:.3f} "
            f"| {row['fast']['seconds_per_sample']:.3f} | {row['speedup']:.2f}x | {row['max_abs_difference']:.3g} {compiled}"
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
    """The reference loop, then this project's; the loops take turns `rounds` times.

    On CUDA this project's loop runs with its automatic fast path at each batch size; on the CPU at
    the study's batch with each speed-up of CPU_STEPS added in turn. Each row's samples/s is the
    median over all its timed windows; `gain` is its ratio to the row above.
    """
    loops = [lambda: reference_training(fresh_net(plan, device), plan, device)]
    if device.type == "cuda":
        loops += [lambda b=b: project_training(fresh_net(plan, device), plan, b, device) for b in plan.batch_sizes]
    else:
        loops += [
            lambda label=label, speed=speed: project_training(fresh_net(plan, device), plan, STUDY_BATCH, device, speed, label)
            for label, speed in CPU_STEPS[plan.net]
            if plan.compile_rows or not speed.compile
        ]
    turns = [[with_peak_memory(loop, device) for loop in loops] for _ in range(plan.rounds)]
    rows = []
    for runs in zip(*turns):
        rates = [rate for run in runs for rate in run["window_samples_per_second"]]
        peaks = [run["peak_gib"] for run in runs]
        rows.append({**runs[0], "samples_per_second": statistics.median(rates), "window_samples_per_second": rates,
                     "peak_gib": None if None in peaks else max(peaks)})
    for above, row in zip(rows, rows[1:]):
        row["gain"] = row["samples_per_second"] / above["samples_per_second"]
    return rows


def sampler_rows(plan: Plan, device: torch.device) -> list[dict]:
    """Seconds per sample of each sampler before the fast path and on it, same net and prior draws, taking turns.

    Before: float32 under no_grad, as the sample stage ran. Fast: the net wrapped in
    sgm.nets.fastpath.Accelerated with the automatic fast path, under inference_mode; with
    `plan.compile_rows` also that path + torch.compile ("compiled", compiled before timing).
    Reports the fastest time of each, the NFEs and the largest difference from the fast samples.
    """
    sde = make_sde(**SDE)
    shape = example_shape(plan, plan.sampler_batch)
    speed = fastpath.choose("auto", "off", device, len(shape))

    def accelerated(speed):
        return fastpath.Accelerated(fresh_net(plan, device).eval().requires_grad_(False), speed)

    variants = {
        "before": (score_fn_from_net(fresh_net(plan, device).eval().requires_grad_(False), sde), torch.no_grad),
        "fast": (score_fn_from_net(accelerated(speed), sde), torch.inference_mode),
    }
    if plan.compile_rows:
        compiled = accelerated(replace(speed, compile=True))
        with torch.inference_mode():
            compiled(torch.zeros(shape, device=device), torch.ones(plan.sampler_batch, device=device))
        variants["compiled"] = (score_fn_from_net(compiled, sde), torch.inference_mode)
    rows = []
    for name, study in SAMPLER_SETTINGS.items():
        planned = {"rtol": plan.rtol, "atol": plan.atol} if name == "probability_flow_ode" else {"steps": plan.sampler_steps}
        settings, seconds, results = {**planned, **study}, {v: [] for v in variants}, {}

        def draw(score_fn, generator):
            return sample(name, score_fn, sde, sde.prior_sampling(shape, generator=generator), settings, generator=generator)

        for _ in range(plan.rounds):
            for variant, (score_fn, mode) in variants.items():
                generator = torch.Generator(device).manual_seed(0)
                with mode():
                    (x, nfe), elapsed = timed(lambda: draw(score_fn, generator), device)
                seconds[variant].append(elapsed / plan.sampler_batch)
                results[variant] = (x.float().cpu(), nfe)
        row = {"sampler": name, **settings, "fast_path": speed.describe()}
        for variant in variants:
            row[variant] = {"nfe": results[variant][1], "seconds_per_sample": min(seconds[variant]), "all": seconds[variant]}
        row["speedup"] = min(seconds["before"]) / min(seconds["fast"])
        row["max_abs_difference"] = float((results["before"][0] - results["fast"][0]).abs().max())
        if "compiled" in variants:
            row["speedup_compiled"] = min(seconds["before"]) / min(seconds["compiled"])
            row["compiled_vs_fast_max_abs_difference"] = float((results["compiled"][0] - results["fast"][0]).abs().max())
        rows.append(row)
    return rows


def speed(plan: Plan, device: torch.device, config: str) -> dict:
    """Training rows (reference first; on the CPU also for the 1-D net), model FLOP utilisation on
    CUDA, the samplers before and on the fast path, and the ODE sampler comparison."""
    training = training_rows(plan, device)
    result = {"training": training, "bf16_matmul_tflops": None, "training_1d": None}
    if device.type == "cpu":
        result["training_1d"] = training_rows(waveform_plan(plan, config), device)
    result["samplers"] = sampler_rows(plan, device)
    if device.type == "cuda":
        forward_flops = count_flops(fresh_net(plan, device), torch.zeros(1, 1, plan.size, plan.size, device=device))
        peak_rate = bf16_matmul_flops(device)
        result["bf16_matmul_tflops"] = peak_rate / 1e12
        for row in training:
            row["model_flop_utilisation"] = 3 * forward_flops * row["samples_per_second"] / peak_rate
    result["training_speedup"] = training[-1]["samples_per_second"] / training[0]["samples_per_second"]
    result["sampling"] = sampling(plan, device)
    return result


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on the machine slows every loop measured."""
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--config", choices=["tiny", "study"], default="study")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--skip-compile", action="store_true", help="leave out the CPU + torch.compile rows (minutes of compiling)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda given but CUDA is not available")
    plan = make_plan(args.config, device)
    if args.skip_compile:
        plan = Plan(**{**asdict(plan), "compile_rows": False})
    cuda = device.type == "cuda"
    report = {
        "config": args.config,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "plan": asdict(plan),
        "uptime_load_before": load_average(),
        **speed(plan, device, args.config),
        "uptime_load_after": load_average(),
        "memory": None,
    }
    if cuda and args.config == "study":
        torch.compiler.reset()  # drop compiled graphs, and the nets they hold, before measuring memory
        report["memory"] = {name: peak_memory(arch, plan, device) for name, arch in study_archs().items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))
    (args.out / "benchmark.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
