"""A trained model ready to sample from: the EMA net of a checkpoint, its SDE and label vocabularies.

Loading for inference needs the checkpoint's config and weights only, never the training loop, so
changing how training runs does not change how sampling loads.
"""

from __future__ import annotations

import torch

from sgm.checkpoints.files import read_checkpoint
from sgm.checkpoints.model import REQUIRED_KEYS, build_model
from sgm.core.sde import SDE


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_for_inference(path, device=None) -> tuple[torch.nn.Module, SDE, dict]:
    """The EMA net of a checkpoint, in eval mode without gradients, its SDE and its label
    vocabularies ({kind: values}; {} for an unconditional net).

    Device: `device`, else CUDA when present, else CPU. ValueError naming the file when it is
    damaged, incomplete or does not match the net its config describes.
    """
    state = read_checkpoint(path, required=("config", "ema"))
    config = state["config"]
    if not isinstance(config, dict) or any(key not in config for key in REQUIRED_KEYS):
        raise ValueError(f"checkpoint {path} has config {config}; expected a dict with keys {REQUIRED_KEYS}")
    try:
        net, sde = build_model(config)
        net.load_state_dict(state["ema"])
    except (ValueError, RuntimeError, TypeError) as err:
        raise ValueError(f"checkpoint {path} does not describe a usable net and SDE: {err}") from None
    device = torch.device(device) if device is not None else default_device()
    return net.to(device).eval().requires_grad_(False), sde, config.get("conditioning") or {}
