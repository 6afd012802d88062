"""Checkpoint files: written atomically, read back with weights_only=True and checked.

A checkpoint holds tensors and plain Python data only:
  {"config", "model", "ema", "optimizer", "step", "epoch", "rng", "batch_in_epoch",
   "epoch_loss_sum", "train_loss"}
where `config` is the model's plain configuration (sgm.checkpoints.model).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

CHECKPOINT_KEYS = ("config", "model", "ema", "optimizer", "step", "epoch", "rng")


def save_checkpoint(state: dict, path: Path) -> Path:
    """Write `state` to `path` atomically: a temporary file beside it, then a rename."""
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path, required=CHECKPOINT_KEYS, map_location="cpu") -> dict:
    """Load a checkpoint with weights_only=True; ValueError naming the file when it is damaged or incomplete."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"checkpoint {path} does not exist") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"checkpoint {path} is unreadable (truncated, corrupted or not a torch checkpoint): {type(err).__name__}") from None
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}; a checkpoint holds {list(required)}")
    return state
