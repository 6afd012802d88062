"""Tiny params in the default run's shape (one SoundFont, two instruments, a 2-block 1-D net, two grid
points), for end-to-end runs of real DVC that finish in a few minutes on 2 cores."""

from __future__ import annotations

import yaml

from tests.helpers.dvc_project import REPO

TINY_SAMPLERS = ["euler_maruyama", "predictor_corrector", "probability_flow_ode"]


def tiny_params() -> dict:
    """params.yaml shrunk: 3 pitches x 2 instruments x 2 clips at 16 kHz, 2 epochs, 5 sampler steps."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["render"].update(
        instruments=["acoustic_grand_piano", "violin"],
        pitch_low=60,
        pitch_high=62,
        note_seconds=0.55,
        clip_samples=4096,
        clips_per_note=2,
        sample_rate=16000,
    )
    params["preprocess"]["lowpass_hz"] = 4000.0
    params["tensorize"].update(test_fraction=0.34, layout="waveform1d", target_std=0.5)
    params["archs"] = {"tiny": {"net": "unet1d", "blocks": 2, "channels": [8, 16], "embed_dim": 16}}
    params["grid"] = {"tiny-1e-3": {"arch": "tiny", "lr": 1e-3}, "tiny-3e-3": {"arch": "tiny", "lr": 3e-3}}
    params["train"].update(
        epochs=[1, 2],
        batch_size=4,
        max_examples=None,
        log_every=1,
        sde={"name": "ve", "sigma_min": 0.002, "sigma_max": "auto"},
        loss_weighting="edm",
        conditioning=["pitch", "instrument"],
    )
    params["sample"].update(
        n_samples=2,
        batch_size=2,
        samplers=TINY_SAMPLERS,
        guidance=1.0,
        euler_maruyama={"steps": 5, "eps": 1e-3},
        predictor_corrector={"steps": 5, "snr": 0.16, "corrector_steps": 1, "eps": 1e-3},
        probability_flow_ode={"rtol": 1e-2, "atol": 1e-2, "eps": 1e-3},
    )
    params["evaluate"]["likelihood"].update(examples=2, rtol=1e-2, atol=1e-2)
    params["plot"]["real_clips"] = 1
    params["play"].update(point="tiny-1e-3", steps=2, inpaint={"sampler": "euler_maruyama", "steps": 2, "resample": 2}, between=1, melody="C4 D4:2 C#4")
    return params


def one_point_params(point: str = "tiny-1e-3") -> dict:
    """tiny_params() with one grid point and one epoch: for tests of what DVC does with whole experiments."""
    params = tiny_params()
    params["grid"] = {point: params["grid"][point]}
    params["play"]["point"] = point
    params["train"]["epochs"] = [1]
    return params
