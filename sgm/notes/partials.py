"""Timbre read at the partials only: the evidence of the second instrument judge.

The first judge's features (sgm.notes.timbre_classifier) summarise the whole log-mel spectrum, so a
floor of noise between the partials moves them. These read the spectrum at the note's harmonics
alone. The fundamental is found within half a semitone of the note's pitch (the requested or
labelled one) as the frequency whose first F0_HARMONICS harmonics carry the most log-magnitude;
harmonic k's level in each frame is the peak of the STFT magnitude within +-3% of k f0 (one bin at
least). From those levels, in dB relative to the strongest harmonic:
- the spectral envelope: the levels interpolated on a fixed log-frequency grid of ENVELOPE_POINTS
  from 100 Hz to the band edge, so formant regions stay in place when the pitch moves;
- the harmonic profile: harmonics 1..PROFILE_HARMONICS (FLOOR_DB beyond the band);
- odd against even harmonics, the centroid and spread of the harmonic powers (in harmonic numbers);
- for the fundamental, harmonics 2-4 and 5-12: the time of the peak, the first half against the
  second (decay), and the frame-to-frame variability (vibrato, tremolo).
"""

from __future__ import annotations

import math

import numpy as np
import torch

N_FFT = 4096
HOP = 1024
F0_HARMONICS = 8
F0_CENTS = torch.arange(-50, 51, 5)  # candidates around the given pitch
PEAK_WIDTH = 0.03  # a harmonic's peak is searched within +-3% of k f0
PROFILE_HARMONICS = 16
ENVELOPE_POINTS = 24
ENVELOPE_LOW_HZ = 100.0
FLOOR_DB = -80.0
GROUPS = ((1, 1), (2, 4), (5, 12))  # harmonic numbers whose energy envelopes in time are read
EPS = 1e-8
BATCH = 128  # clips at a time: the peak search holds (clips, bins, frames) per harmonic


def midi_hz(midi: torch.Tensor) -> torch.Tensor:
    return 440.0 * 2 ** ((midi.double() - 69) / 12)


def fundamentals(mean_magnitude: torch.Tensor, pitches: torch.Tensor, bin_hz: float, band_hz: float) -> torch.Tensor:
    """f0 (N,) in Hz: of the candidates within half a semitone of each pitch, the one whose first
    harmonics (below the band edge) have the largest mean log-magnitude in the clip's mean spectrum (N, bins)."""
    candidates = midi_hz(pitches)[:, None] * 2 ** (F0_CENTS.double() / 1200)  # (N, C)
    k = torch.arange(1, F0_HARMONICS + 1, dtype=torch.float64)
    freqs = candidates[..., None] * k  # (N, C, K)
    inside = freqs < band_hz
    bins = (freqs / bin_hz).round().long().clamp(max=mean_magnitude.shape[1] - 1)
    log_magnitude = torch.log(mean_magnitude.double() + EPS)
    picked = torch.gather(log_magnitude[:, None, :].expand(-1, len(F0_CENTS), -1), 2, bins)
    score = (picked * inside).sum(-1) / inside.sum(-1).clamp(min=1)
    return candidates.gather(1, score.argmax(1, keepdim=True)).squeeze(1)


def harmonic_levels(magnitude: torch.Tensor, f0: torch.Tensor, bin_hz: float, band_hz: float, harmonics: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Levels (N, K, frames) in dB of harmonics 1..K (the peak magnitude near k f0), and which lie in band (N, K)."""
    bins = torch.arange(magnitude.shape[1], dtype=torch.float64) * bin_hz
    levels, inside = [], []
    for k in range(1, harmonics + 1):
        centre = k * f0[:, None]  # (N, 1)
        near = (bins - centre).abs() <= torch.maximum(PEAK_WIDTH * centre, torch.tensor(bin_hz))  # (N, bins)
        peak = magnitude.masked_fill(~near[..., None], 0).amax(1)  # (N, frames)
        levels.append(20 * torch.log10(peak.double() + EPS))
        inside.append(centre[:, 0] < band_hz)
    return torch.stack(levels, 1), torch.stack(inside, 1)


def envelope_in_time(power: torch.Tensor) -> torch.Tensor:
    """(N, 3): time of the peak (fraction of the clip), first half minus second half (dB), frame-to-frame std (dB)."""
    db = 10 * torch.log10(power + EPS)
    half = db.shape[1] // 2
    return torch.stack([db.argmax(1).double() / db.shape[1], db[:, :half].mean(1) - db[:, half:].mean(1), db.diff(dim=1).std(1)], 1)


def partial_features(audio: torch.Tensor, sample_rate: int, pitches: torch.Tensor | None, band_hz: float | None = None) -> torch.Tensor:
    """Features (N, F) read at the harmonics of clips (N, L) of notes at MIDI `pitches` (N,), below `band_hz`."""
    if pitches is None:
        raise ValueError("the partials judge reads the harmonics of a known pitch: give the clips' (requested) MIDI pitches")
    pitches = torch.as_tensor(pitches, dtype=torch.float64)
    if audio.ndim != 2 or audio.shape[1] < N_FFT or pitches.shape != (len(audio),):
        raise ValueError(f"need clips (N, L >= {N_FFT}) and one pitch each, got {tuple(audio.shape)} and {tuple(pitches.shape)}")
    band = min(band_hz or sample_rate / 2, sample_rate / 2)
    return torch.cat([_features(audio[start : start + BATCH], sample_rate, pitches[start : start + BATCH], band) for start in range(0, len(audio), BATCH)])


def _features(audio: torch.Tensor, sample_rate: int, pitches: torch.Tensor, band: float) -> torch.Tensor:
    bin_hz = sample_rate / N_FFT
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    magnitude = torch.stft(audio.double(), N_FFT, HOP, window=window, return_complex=True).abs()  # (N, bins, frames)
    f0 = fundamentals(magnitude.mean(-1), pitches, bin_hz, band)
    harmonics = max(PROFILE_HARMONICS, int(band / float(f0.min())))
    levels, inside = harmonic_levels(magnitude, f0, bin_hz, band, harmonics)
    mean_level = levels.mean(-1).masked_fill(~inside, -math.inf)
    reference = mean_level.amax(1, keepdim=True)
    relative = (mean_level - reference).clamp(min=FLOOR_DB)  # beyond the band: the floor
    power = 10 ** (relative / 10) * inside
    k = torch.arange(1, harmonics + 1, dtype=torch.float64)
    centroid = (power * k).sum(1) / power.sum(1)
    spread = ((power * (k - centroid[:, None]) ** 2).sum(1) / power.sum(1)).sqrt()
    odd, even = power[:, 2::2].sum(1), power[:, 1::2].sum(1)  # harmonics 3, 5, ... and 2, 4, ...
    log_grid = np.linspace(math.log(ENVELOPE_LOW_HZ), math.log(band), ENVELOPE_POINTS)
    envelope = torch.tensor(
        np.stack([np.interp(log_grid, torch.log(f * k[row]).numpy(), rel[row].numpy()) for f, rel, row in zip(f0, relative, inside)])
    )  # levels of the in-band harmonics against log frequency; the end values held beyond them
    frame_power = 10 ** (levels / 10) * inside[..., None]
    in_time = [envelope_in_time(frame_power[:, low - 1 : high].sum(1)) for low, high in GROUPS]
    return torch.cat(
        [
            envelope,
            relative[:, :PROFILE_HARMONICS],
            torch.stack([10 * torch.log10((odd + EPS) / (even + EPS)), centroid, spread], 1),
            *in_time,
        ],
        dim=1,
    ).float()
