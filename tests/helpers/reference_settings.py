"""The published settings of score SDEs, samplers and losses (Song et al. 2021; Karras et al. 2022), for analytic tests.

The library has no defaults of its own (params.yaml ships the pipeline's); tests that check an SDE
or a sampler against closed-form answers use these, the values of score_sde_pytorch and EDM.
"""

from __future__ import annotations

from sgm.core.losses import TRAINING_EPS, DenoisingScoreMatching
from sgm.core.samplers import sample
from sgm.core.sde import SDE, make_sde
from sgm.training.config import TrainConfig
from sgm.training.loop import train

SDE_PARAMETERS = {
    "ve": {"sigma_min": 0.01, "sigma_max": 50.0},
    "vp": {"beta_min": 0.1, "beta_max": 20.0},
    "subvp": {"beta_min": 0.1, "beta_max": 20.0},
    "tutorial_ve": {"sigma": 25.0},
}
SAMPLER_SETTINGS = {
    "euler_maruyama": {"steps": 500, "eps": 1e-3},
    "predictor_corrector": {"steps": 500, "snr": 0.16, "corrector_steps": 1, "eps": 1e-3},
    "heun": {"steps": 18, "rho": 7.0, "eps": 1e-3},
    "probability_flow_ode": {"rtol": 1e-5, "atol": 1e-5, "eps": 1e-3},
}


def reference_sde(name: str) -> SDE:
    """The SDE `name` with score_sde's parameters (the tutorial's sigma 25 for tutorial_ve)."""
    return make_sde(name, **SDE_PARAMETERS[name])


def settings(sampler: str, **overrides) -> dict:
    """A sampler's reference settings with `overrides`."""
    return {**SAMPLER_SETTINGS[sampler], **overrides}


def draw(sampler: str, score_fn, sde: SDE, shape, generator=None, z=None, **overrides):
    """Samples of `shape` from the prior (or from z) with the reference settings of `sampler`; returns (x, nfe)."""
    start = sde.prior_sampling(shape, generator=generator) if z is None else z
    return sample(sampler, score_fn, sde, start, settings(sampler, **overrides), generator=generator)


def dsm_loss(net, sde: SDE, x, weighting: str = "study", eps: float = TRAINING_EPS, class_labels=None, generator=None, log_sigma=(-1.2, 1.2)):
    """The DSM loss of `net` on x with the study's weighting (or another) and EDM's noise levels for "edm"."""
    return DenoisingScoreMatching(weighting, log_sigma, eps)(net, sde, x, class_labels=class_labels, generator=generator)


TRAINING = {  # a plain recipe for tests: the study's loss, Adam at a constant rate, EMA 0.999, clipping at 1
    "seed": 0,
    "lr_schedule": "constant",
    "lr_decay_fraction": 1.0,
    "ema_decay": 0.999,
    "grad_clip": 1.0,
    "label_dropout": 0.0,
    "compile": "auto",
    "fast_path": "auto",
    "log_every": 50,
}


def train_config(lr, batch_size, epochs, loss_weighting="study", log_sigma=(-1.2, 1.2), **fields) -> TrainConfig:
    """A TrainConfig of TRAINING with these fields; the loss from its weighting (and EDM's noise levels for "edm")."""
    return TrainConfig(lr=lr, batch_size=batch_size, epochs=epochs, loss=DenoisingScoreMatching(loss_weighting, log_sigma), **{**TRAINING, **fields})


def fit(net, sde: SDE, data, checkpoint_dir, config: dict, labels=None, device=None, log=None, on_checkpoint=None, stop=None, **recipe):
    """`sgm.training.loop.train` with a train_config(**recipe); returns its {epoch: train loss}."""
    return train(net, sde, data, train_config(**recipe), checkpoint_dir, config, labels=labels, device=device, log=log, on_checkpoint=on_checkpoint, stop=stop)
