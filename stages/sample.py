"""Sample every checkpoint of one grid point with every sampler: python -m stages.sample POINT.

Writes each sample as a WAV file and all of them as a tensor, plus the NFE and seconds per sample.
All samplers of one checkpoint start from the same seeded prior draws, so they compare like for like.
A conditional model is asked for a seeded, balanced list of labels (sgm.conditioning.balanced_requests)
with classifier-free guidance `sample.guidance`; each WAV is named after what was asked
(sample_003_flute_G4.wav) and samples.pt records the requests under "requested".
Audio is limited to the band of the training clips (the layout's `band_hz`) unless
`sample.band_limit` is false, which keeps the network's raw output for comparison.
The net runs on the fast path that `sample.fast_path` and `sample.compile` pick (sgm.fastpath: bf16
autocast, channels_last and torch.compile where they are faster); the samplers' own arithmetic
stays float32.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from sgm import fastpath
from sgm.audio_io import write_wav
from sgm.conditioning import balanced_requests, describe, encode_labels
from sgm.losses import score_fn_from_net
from sgm.progress import progress_bar
from sgm.sampling import get_sampler
from sgm.train import load_for_inference
from stages.common import (
    StageError,
    atomic_dir,
    checkpoint_file,
    checkpoint_name,
    grid_point_argument,
    read_layout,
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
    layout = read_layout() if settings.band_limit else dataclasses.replace(read_layout(), band_hz=None)
    checkpoints = {checkpoint_name(epoch): checkpoint_file(train_dir(point), epoch) for epoch in params.train.epochs}
    missing = [str(path) for path in checkpoints.values() if not path.is_file()]
    if missing:
        raise StageError("missing checkpoint(s) (run the train stage first): " + ", ".join(missing))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    metrics = {}
    speed = fastpath.choose(settings.fast_path, settings.compile, device, 1 + len(layout.shape))
    bar = progress_bar(total=len(checkpoints) * len(settings.samplers), desc=f"sample@{point}", unit="draw")
    with atomic_dir(samples_dir(point)) as out, bar:
        for ckpt, path in checkpoints.items():
            try:
                net, sde, conditioning = load_for_inference(path, device=device)
            except ValueError as err:
                raise StageError(str(err)) from None
            net = fastpath.Accelerated(net, speed)
            requests = balanced_requests(conditioning, settings.n_samples, params.seed)
            metrics[ckpt] = {}
            for sampler in settings.samplers:
                bar.set_postfix_str(f"{ckpt} {sampler}")
                x, nfe, seconds = draw(get_sampler(sampler), net, sde, conditioning, requests, layout.shape, settings, sampler, params.seed, device)
                metrics[ckpt][sampler] = {"nfe": nfe, "seconds_per_sample": seconds / settings.n_samples}
                save(out / ckpt / sampler, x, layout, requests)
                bar.update()
    write_json(sampling_metrics_file(point), metrics)


def draw(sample_fn, net, sde, conditioning, requests, shape, settings, sampler, seed, device):
    """Draw n_samples in batches (the i-th for requests[i]); return them on the CPU, the mean NFE per batch and the seconds."""
    generator = torch.Generator(device).manual_seed(seed)
    batches, nfes = [], []
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, settings.n_samples, settings.batch_size):
            size = min(settings.batch_size, settings.n_samples - first)
            labels = encode_labels(conditioning, requests[first : first + size]).to(device) if conditioning else None
            score_fn = score_fn_from_net(net, sde, labels, settings.guidance if conditioning else 0.0, settings.guidance_interval)
            x, nfe = sample_fn(
                score_fn, sde, (size, *shape), **settings.settings(sampler), progress=True, generator=generator, device=device
            )
            batches.append(x.float().cpu())
            nfes.append(nfe)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return torch.cat(batches), sum(nfes) / len(nfes), time.perf_counter() - start


def save(directory, x, layout, requests):
    """Write samples.pt (with the requests) and, for audio layouts, one WAV per sample named after its request."""
    directory.mkdir(parents=True)
    record = {"x": x, "requested": {kind: [request[kind] for request in requests] for kind in (requests[0] if requests else {})}}
    if layout.name != "image":
        audio = layout.to_audio(x)
        record["audio"] = audio
        for i, (clip, request) in enumerate(zip(audio, requests)):
            name = "_".join(filter(None, [f"sample_{i:03d}", describe(request)]))
            write_wav(directory / f"{name}.wav", clip.clamp(-1, 1).numpy(), layout.sample_rate)
    if layout.name == "pianoroll":
        for i, roll in enumerate(layout.to_rolls(x)):
            layout.to_midi(roll).write(str(directory / f"sample_{i:03d}.mid"))
    torch.save(record, directory / "samples.pt")


if __name__ == "__main__":
    run_stage(main)
