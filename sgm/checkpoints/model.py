"""A model from its plain configuration: net, SDE, label conditioning and preconditioning.

The configuration is the dict a checkpoint stores (`config`), so training and every later use
build exactly the same model from it:
  {"net": "unet1d", "channels": [...], "in_channels": 1, "embed_dim": 256,
   "sde": {"name": "ve", "sigma_min": ..., "sigma_max": ...},
   "conditioning": {"pitch": [55, ...], "instrument": ["flute", ...]},   # optional
   "precond": {"name": "edm", "sigma_data": 0.5}}                        # optional
Checkpoints written before conditioning and preconditioning existed (with "num_classes": 0
and neither key) build the same unconditional, unpreconditioned model as before.
"""

from __future__ import annotations

from torch import nn

from sgm.core.labels import label_sizes
from sgm.core.precond import PRECONDITIONINGS, EDMPrecond
from sgm.core.sde import SDE, make_sde
from sgm.nets.build import build_net

REQUIRED_KEYS = ("net", "channels", "sde")
MODEL_KEYS = (*REQUIRED_KEYS, "conditioning", "precond", "num_classes")


def build_model(config: dict) -> tuple[nn.Module, SDE]:
    """The (freshly initialised) net and the SDE that `config` describes; ValueError if it describes none."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise ValueError(f"model config lacks {missing}; it needs {list(REQUIRED_KEYS)}")
    sde = make_sde(**config["sde"])
    net_kwargs = {key: value for key, value in config.items() if key not in MODEL_KEYS}
    conditioning = config.get("conditioning") or {}
    net = build_net(config["net"], config["channels"], num_classes=label_sizes(conditioning) or 0, **net_kwargs)
    precond = config.get("precond") or {"name": "none"}
    if precond.get("name") not in PRECONDITIONINGS:
        raise ValueError(f"unknown preconditioning {precond.get('name')!r}; accepted: {', '.join(PRECONDITIONINGS)}")
    if precond["name"] == "edm":
        if "sigma_data" not in precond:
            raise ValueError(f"preconditioning {precond} lacks sigma_data, the data's std it scales by")
        net = EDMPrecond(net, sde, sigma_data=precond["sigma_data"])
    return net, sde
