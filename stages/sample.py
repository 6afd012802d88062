"""Sample every checkpoint of one grid point with every sampler: python -m stages.sample POINT.

Writes each sampler's samples as the kind of data writes them (sgm.kinds; notes: a WAV per sample
named after what was asked, sample_003_flute_G4.wav, beside samples.pt), plus the NFE and seconds
per sample. All samplers of one checkpoint start from the same seeded prior draws, so they compare
like for like. A conditional model is asked for a seeded, balanced list of labels
(sgm.core.labels.balanced_requests) with classifier-free guidance `sample.guidance` (and
`sample.label_guidance` towards single labels); samples.pt
records the requests under "requested". Audio is limited to the band of the training clips (the
layout's `band_hz`) unless `sample.band_limit` is false, which keeps the network's raw output for
comparison. The net runs on the fast path that `sample.fast_path` and `sample.compile` pick
(sgm.nets.fastpath: bf16 autocast, channels_last and torch.compile where they are faster); the
samplers' own arithmetic stays float32.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from sgm.checkpoints.inference import default_device, load_for_inference
from sgm.core.labels import balanced_requests, encode_labels
from sgm.core.samplers import sample
from sgm.core.score import label_guidance_for, score_fn_from_net
from sgm.kinds import data_kind
from sgm.nets import fastpath
from sgm.progress import progress_bar
from stages.common.outputs import StageError, atomic_dir, grid_point_argument, run_stage, write_json
from stages.common.params import load_params
from stages.common.paths import checkpoint_file, checkpoint_name, read_layout, samples_dir, sampling_metrics_file, train_dir


def main() -> None:
    params = load_params()
    point = grid_point_argument(params, "sample")
    settings = params.sample
    layout = read_layout(params.kind)
    if not settings.band_limit:
        layout = dataclasses.replace(layout, band_hz=None)
    checkpoints = {checkpoint_name(epoch): checkpoint_file(train_dir(point), epoch) for epoch in params.train.epochs}
    missing = [str(path) for path in checkpoints.values() if not path.is_file()]
    if missing:
        raise StageError("missing checkpoint(s) (run the train stage first): " + ", ".join(missing))
    device = default_device()
    kind = data_kind(params.kind)

    metrics = {}
    speed = fastpath.choose(settings.fast_path, settings.compile, device, 1 + len(layout.shape))
    bar = progress_bar(total=len(checkpoints) * len(settings.samplers), desc=f"sample@{point}", unit="draw")
    with atomic_dir(samples_dir(point)) as out, bar:
        for ckpt, path in checkpoints.items():
            try:
                net, sde, conditioning = load_for_inference(path, device=device)
            except ValueError as err:
                raise StageError(str(err)) from None
            try:
                label_guidance = label_guidance_for(conditioning, {kind: (term.scale, term.interval) for kind, term in settings.label_guidance.items()})
            except ValueError as err:
                raise StageError(f"sample.label_guidance does not fit {path}: {err}") from None
            net = fastpath.Accelerated(net, speed)
            requests = balanced_requests(conditioning, settings.n_samples, params.seed)
            metrics[ckpt] = {}
            for sampler in settings.samplers:
                bar.set_postfix_str(f"{ckpt} {sampler}")
                x, nfe, seconds = draw(net, sde, conditioning, label_guidance, requests, layout.shape, settings, sampler, params.seed, device)
                metrics[ckpt][sampler] = {"nfe": nfe, "seconds_per_sample": seconds / settings.n_samples}
                kind.save_samples(out / ckpt / sampler, x, layout, requests)
                bar.update()
    write_json(sampling_metrics_file(point), metrics)


def draw(net, sde, conditioning, label_guidance, requests, shape, settings, sampler, seed, device):
    """Draw n_samples in batches (the i-th for requests[i]); return them on the CPU, the mean NFE per batch and the seconds."""
    generator = torch.Generator(device).manual_seed(seed)
    batches, nfes = [], []
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, settings.n_samples, settings.batch_size):
            size = min(settings.batch_size, settings.n_samples - first)
            labels = encode_labels(conditioning, requests[first : first + size]).to(device) if conditioning else None
            score_fn = score_fn_from_net(net, sde, labels, settings.guidance if conditioning else 0.0, settings.guidance_interval, label_guidance)
            prior = sde.prior_sampling((size, *shape), generator=generator, device=device)
            x, nfe = sample(sampler, score_fn, sde, prior, settings.settings(sampler), generator=generator, progress=True)
            batches.append(x.float().cpu())
            nfes.append(nfe)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return torch.cat(batches), sum(nfes) / len(nfes), time.perf_counter() - start


if __name__ == "__main__":
    run_stage(main)
