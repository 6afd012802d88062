"""Signal processing for clips: down-mix, zero-phase low-pass and its stop band, peak normalization, cutting.

Arrays are channels-first, (channels, L) or (L,), with time on the last axis.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

STOPBAND_GRID = 1 << 16


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of (channels, L) into (L,); a (L,) array is returned as is."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"audio must be (L,) or (channels, L), got shape {audio.shape}")
    return audio.mean(axis=0, dtype=np.float64).astype(audio.dtype)


@lru_cache(maxsize=16)
def lowpass_sos(sample_rate: float, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Butterworth sections that, run forward and backward, give exactly -3 dB at `cutoff_hz`.

    Filtering twice squares the magnitude, so each pass is designed to lose only 1.5 dB at the
    cutoff: the design edge is moved up by the factor that makes |H|^4 = 1/2 there (computed in
    the bilinear transform's warped frequency, where the Butterworth formula is exact). Cached:
    one design serves every clip of a data set.
    """
    nyquist = sample_rate / 2
    if not 0 < cutoff_hz < nyquist:
        raise ValueError(f"cutoff_hz={cutoff_hz} must lie strictly between 0 and the Nyquist frequency {nyquist} Hz")
    if order < 1:
        raise ValueError(f"order={order} must be a positive integer")
    warped_cutoff = np.tan(np.pi * cutoff_hz / sample_rate)
    warped_edge = warped_cutoff / (np.sqrt(2) - 1) ** (1 / (2 * order))
    edge = 2 * np.arctan(warped_edge) / np.pi
    return signal.butter(order, edge, btype="lowpass", output="sos")


def lowpass(audio: np.ndarray, sample_rate: float, cutoff_hz: float, order: int = 8) -> np.ndarray:
    """Zero-phase low-pass along the last axis: no delay, so attacks stay where they were.

    Far above the cutoff the magnitude falls by `12 * order` dB per octave (both passes together).
    """
    audio = np.asarray(audio)
    sos = lowpass_sos(sample_rate, cutoff_hz, order)
    return signal.sosfiltfilt(sos, audio, axis=-1).astype(audio.dtype)


def stopband_hz(sample_rate: float, cutoff_hz: float, order: int = 8, attenuation_db: float = 60.0) -> float | None:
    """The lowest frequency from which `lowpass` attenuates by at least `attenuation_db` (both passes).

    Clips filtered by `lowpass` hold nothing measurable above it. None if the filter never gets
    that deep below the Nyquist frequency.
    """
    if not attenuation_db > 0:
        raise ValueError(f"attenuation_db={attenuation_db} must be positive")
    freqs, response = signal.sosfreqz(lowpass_sos(sample_rate, cutoff_hz, order), worN=STOPBAND_GRID, fs=sample_rate)
    gain_db = 40 * np.log10(np.maximum(np.abs(response), 1e-300))  # forward and backward: |H|^2 in amplitude
    deep = np.flatnonzero(gain_db > -attenuation_db)
    if deep[-1] == len(freqs) - 1:
        return None
    return float(freqs[deep[-1] + 1])


def peak_normalize(audio: np.ndarray, peak: float) -> np.ndarray:
    """Scale `audio` so its largest absolute sample equals `peak`; silence is returned unchanged."""
    if not peak > 0:
        raise ValueError(f"peak={peak} must be positive")
    audio = np.asarray(audio)
    largest = np.abs(audio).max()
    if largest == 0:
        return audio
    return (audio * (peak / largest)).astype(audio.dtype)


def cut_clips(audio: np.ndarray, clip_samples: int, n_clips: int) -> np.ndarray:
    """Cut `n_clips` consecutive clips from the start of `audio` (..., L); the tail is dropped.

    Returns (n_clips, ..., clip_samples).
    """
    audio = np.asarray(audio)
    needed = clip_samples * n_clips
    if clip_samples < 1 or n_clips < 1:
        raise ValueError(f"clip_samples={clip_samples} and n_clips={n_clips} must both be positive")
    if audio.shape[-1] < needed:
        raise ValueError(
            f"audio has {audio.shape[-1]} samples, fewer than n_clips*clip_samples = "
            f"{n_clips}*{clip_samples} = {needed}"
        )
    clips = audio[..., :needed].reshape(*audio.shape[:-1], n_clips, clip_samples)
    return np.moveaxis(clips, -2, 0)
