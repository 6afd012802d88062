"""Sample every checkpoint of one grid point with every sampler: python -m stages.sample POINT.

Writes each sample as a WAV file and all of them as a tensor, plus the NFE and seconds per sample.
All samplers of one checkpoint start from the same seeded prior draws, so they compare like for like.
The net runs on the fast path that `sample.fast_path` picks (sgm.fastpath: bf16 autocast and
channels_last where they are faster); the samplers' own arithmetic stays float32.
"""

from __future__ import annotations

import json
import time

import torch

from sgm import fastpath
from sgm.audio_io import write_wav
from sgm.layouts import layout_from_dict
from sgm.losses import score_fn_from_net
from sgm.progress import progress_bar
from sgm.sampling import get_sampler
from sgm.train import load_for_inference
from stages.common import (
    TENSORS_DIR,
    atomic_dir,
    checkpoint_file,
    checkpoint_name,
    grid_point_argument,
    run_stage,
    samples_dir,
    sampling_metrics_file,
    train_dir,
    write_json,
)
from stages.config import load_params


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "sample")
    settings = params.sample
    layout = layout_from_dict(json.loads((TENSORS_DIR / "layout.json").read_text()))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    speed = fastpath.choose(settings.fast_path, "off", device, 1 + len(layout.shape))
    metrics = {}
    bar = progress_bar(total=len(params.train.epochs) * len(settings.samplers), desc=f"sample@{point}", unit="draw")
    with atomic_dir(samples_dir(point)) as out, bar:
        for epoch in params.train.epochs:
            ckpt = checkpoint_name(epoch)
            net, sde = load_for_inference(checkpoint_file(train_dir(point), epoch), device=device)
            score_fn = score_fn_from_net(fastpath.Accelerated(net, speed), sde)
            metrics[ckpt] = {}
            for sampler in settings.samplers:
                bar.set_postfix_str(f"{ckpt} {sampler}")
                x, nfe, seconds = draw(get_sampler(sampler), score_fn, sde, layout.shape, settings, sampler, params.seed, device)
                metrics[ckpt][sampler] = {"nfe": nfe, "seconds_per_sample": seconds / settings.n_samples}
                save(out / ckpt / sampler, x, layout)
                bar.update()
    write_json(sampling_metrics_file(point), metrics)


def draw(sample_fn, score_fn, sde, shape, settings, sampler, seed, device):
    """Draw n_samples in batches; return them on the CPU, the mean NFE per batch and the seconds."""
    generator = torch.Generator(device).manual_seed(seed)
    batches, nfes = [], []
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, settings.n_samples, settings.batch_size):
            size = min(settings.batch_size, settings.n_samples - first)
            x, nfe = sample_fn(
                score_fn, sde, (size, *shape), **settings.settings(sampler), progress=True, generator=generator, device=device
            )
            batches.append(x.float().cpu())
            nfes.append(nfe)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return torch.cat(batches), sum(nfes) / len(nfes), time.perf_counter() - start


def save(directory, x, layout):
    """Write samples.pt and, for audio layouts, one WAV per sample."""
    directory.mkdir(parents=True)
    record = {"x": x}
    if layout.name != "image":
        audio = layout.to_audio(x)
        record["audio"] = audio
        for i, clip in enumerate(audio):
            write_wav(directory / f"sample_{i:03d}.wav", clip.clamp(-1, 1).numpy(), layout.sample_rate)
    torch.save(record, directory / "samples.pt")


if __name__ == "__main__":
    run_stage(main)
