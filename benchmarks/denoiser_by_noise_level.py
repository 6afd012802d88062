"""Where the floor between partials comes from: a checkpoint's one-step denoised estimate of held-out
clips by noise level, its error and its in-band spectral flatness against the clips' own.

    python -m benchmarks.denoiser_by_noise_level runs/POINT/train/checkpoints/epoch_NNN.pt

Run in a project whose tensorize stage has run (data/tensors); notes data, the kind's low-pass as the band.
"""

from __future__ import annotations

import argparse

import torch

from sgm.checkpoints.inference import load_for_inference
from sgm.core.score import score_fn_from_net
from sgm.kinds.labels import tensor_labels
from sgm.notes.metrics import spectral_flatness
from stages.common.params import load_params
from stages.common.paths import read_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--clips", type=int, default=64, help="the first N held-out clips")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = load_params()
    data = read_dataset(params.kind)
    net, sde, conditioning = load_for_inference(args.checkpoint, device="cpu")
    clean = data.test["x"][: args.clips]
    labels = tensor_labels(conditioning, {key: values[: args.clips] for key, values in data.test.items() if key != "x"}, data.label_names)
    score_fn = score_fn_from_net(net, sde, labels)
    rate, band = data.layout.sample_rate, params.preprocess.lowpass_hz
    real = spectral_flatness(data.layout.to_audio(clean), rate, band)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(args.seed))
    print(f"held-out in-band flatness {real:.3g}")
    print("sigma      error/sigma^2  in-band flatness  x real")
    for sigma in torch.logspace(-2.5, 1, 15, dtype=torch.float64).tolist():
        t = sde.time_at_noise_level(torch.full((len(clean),), sigma, dtype=torch.float64)).float()
        scale, std = sde.marginal_prob(torch.ones_like(clean), t)
        noisy = scale * clean + std[:, None, None] * noise
        with torch.no_grad():
            denoised = (noisy + std[:, None, None] ** 2 * score_fn(noisy, t)) / scale
        flatness = spectral_flatness(data.layout.to_audio(denoised), rate, band)
        print(f"{sigma:<10.4f} {(denoised - clean).square().mean().item() / sigma**2:<14.3f} {flatness:<17.3g} {flatness / real:.1f}")


if __name__ == "__main__":
    main()
