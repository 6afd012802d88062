"""A keyboard from one note of your own: the same timbre at every trained pitch.

The baseline is what a sampler does with one sample: play it faster or slower (`repitch`), which
moves the formants and the attack with the pitch. The model's way starts there and lets the
checkpoint redraw the note at the target pitch by SDEdit (sgm.generation.variation): the
repitched note is noised up to strength * T and denoised with the target pitch's label (and the
instrument's, when one is given), so the timbre the noise leaves is the reference's and what it
washes out is redrawn as the model makes notes of that pitch.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

from sgm.generation.session import Session
from sgm.generation.variation import vary
from sgm.notes.crepe import analyze
from sgm.notes.metrics import clip_pitch_hz, hz_to_midi

KEYBOARD_STRENGTH = 0.3  # SDEdit strength of sgm-generate keyboard: the closest of 0.3, 0.5 and 0.7 (docs/instruments.md)
MIN_SECONDS = 0.1


def repitch(clip: np.ndarray, semitones: float, sample_rate: int) -> np.ndarray:
    """`clip` played `semitones` higher by band-limited resampling, cut or zero-padded to its own length."""
    speed = 2.0 ** (semitones / 12)
    moved = librosa.resample(np.asarray(clip, dtype=np.float64), orig_sr=sample_rate * speed, target_sr=sample_rate, res_type="soxr_hq")
    out = np.zeros(len(clip), dtype=np.float32)
    out[: min(len(clip), len(moved))] = moved[: len(clip)]
    return out


def check_reference(clip: np.ndarray, sample_rate: int, name: str) -> None:
    """Refuse a reference note shorter than MIN_SECONDS (a silent file is refused when it is read)."""
    if len(clip) < MIN_SECONDS * sample_rate:
        raise ValueError(f"reference {name} is too short: {len(clip) / sample_rate:.3f} s, at least {MIN_SECONDS:g} s needed")


def detect_pitch(clip: np.ndarray, sample_rate: int, threshold: float, crepe_model: str, name: str) -> int:
    """The MIDI pitch CREPE hears in `clip` (rounded), or ValueError when it hears none."""
    analysis = analyze(torch.from_numpy(np.asarray(clip, dtype=np.float32))[None], sample_rate, crepe_model)
    hz = clip_pitch_hz(analysis, threshold)
    if not torch.isfinite(hz).all():
        raise ValueError(f"reference {name} has no detectable pitch (CREPE periodicity below {threshold:g}); pass --pitch")
    return int(hz_to_midi(hz).round()[0])


def repitched_keyboard(clip: np.ndarray, pitch: int, targets: list[int], sample_rate: int) -> np.ndarray:
    """The baseline: the reference repitched from `pitch` to each of `targets`, (N, L)."""
    return np.stack([repitch(clip, target - pitch, sample_rate) for target in targets])


def model_keyboard(session: Session, clip: np.ndarray, pitch: int, requests: list[dict], strength: float, sampler: str, settings: dict, guidance: float, guidance_interval) -> np.ndarray:
    """The model's keyboard: SDEdit of `clip` repitched from `pitch` to each request's pitch, with its labels, (N, L)."""
    layout = session.layout
    repitched = repitched_keyboard(clip, pitch, [request["pitch"] for request in requests], layout.sample_rate)
    x0 = layout.to_model(torch.from_numpy(repitched)).to(session.device)
    score = session.score(session.labels(requests), guidance, guidance_interval)
    x = session.run("keyboard", vary, score, session.sde, x0, strength, sampler, settings, generator=session.generator())
    return session.audio(x)
