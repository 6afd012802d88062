"""An instrument from a checkpoint: a generated note at every trained pitch, mapped onto the keyboard.

Every trained pitch gets its own note (per velocity layer and round-robin variant), sampled with
the session's sampler; the keys between trained pitches play the nearest one, repitched by the
player. The model's notes are one clip long (0.37 s at the default layout), so each sample ends
in a FADE_SECONDS raised-cosine fade (no click when a note runs out) and gets a sustain loop only
where its steady part repeats across the seam (sgm.instruments.instrument.find_loop); a held key
then sustains, otherwise the note ends with its sample. All samples share one gain, bringing the
loudest to PEAK: the model's balance between keys is kept.

The checkpoints have no velocity labels: a velocity layer is another draw of the same notes, and
the player's velocity curve sets its loudness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from sgm.audio.pitch import note_name, pitch_hz
from sgm.instruments.instrument import Instrument, Region, find_loop, key_ranges, velocity_layers

FADE_SECONDS = 0.02
PEAK = 0.89  # -1 dBFS
BATCH = 64

Draw = Callable[[list[dict], torch.Generator], np.ndarray]


def fade_out(audio: np.ndarray, samples: int) -> np.ndarray:
    """`audio` (..., L) with a raised-cosine fade over its last `samples` points."""
    gain = np.ones(audio.shape[-1], dtype=audio.dtype)
    gain[-samples:] = 0.5 * (1 + np.cos(np.linspace(0, np.pi, samples)))
    return audio * gain


def regions_from_notes(notes: dict[tuple[int, int, int], np.ndarray], sample_rate: int, extend: int = 0) -> list[Region]:
    """Regions of notes {(pitch, velocity, variant): clip}: faded, looped where honest, one shared gain to PEAK."""
    pitches = sorted({pitch for pitch, _, _ in notes})
    velocities = sorted({velocity for _, velocity, _ in notes})
    keys, layers = key_ranges(pitches, extend), dict(zip(velocities, velocity_layers(velocities)))
    fade = round(FADE_SECONDS * sample_rate)
    faded = {request: fade_out(np.asarray(clip, dtype=np.float32), fade) for request, clip in notes.items()}
    peak = max(float(np.abs(clip).max()) for clip in faded.values())
    gain = PEAK / peak if peak > 0 else 1.0
    regions = []
    for (pitch, velocity, variant), clip in sorted(faded.items()):
        clip = clip * gain
        loop = find_loop(clip, sample_rate, pitch_hz(pitch), tail=fade)
        regions.append(Region(clip, pitch, keys[pitch], layers[velocity], loop[0] if loop else None, variant))
    return regions


def describe(instrument: Instrument, source: str) -> str:
    """The comment an instrument file carries: where its notes come from and how they end."""
    regions = instrument.regions
    looped = sum(region.loop is not None for region in regions)
    seconds = len(regions[0].audio) / instrument.sample_rate
    low, high = min(r.keys[0] for r in regions), max(r.keys[1] for r in regions)
    envelope = instrument.envelope
    return (
        f"{source}. {len(regions)} samples of {seconds:.2f} s over keys {note_name(low)} ({low}) to {note_name(high)} ({high}), "
        f"each its own generated note; {looped} sustain while the key is held (a loop of whole periods that repeats "
        f"within -20 dB), the others end with their sample in a {1000 * FADE_SECONDS:g} ms fade. "
        f"Volume envelope: attack {1000 * envelope.attack:g} ms, release {1000 * envelope.release:g} ms."
    )


def generate_notes(conditioning: dict, instrument: str | None, velocities: list[int], variants: int, draw: Draw, generator_for: Callable[[int], torch.Generator]) -> dict:
    """{(pitch, velocity, variant): clip} for every trained pitch x velocity layer x variant.

    draw(requests, generator) samples one clip per request; variant v draws from generator_for(v),
    so a variant's notes do not depend on how many others are made.
    """
    if "pitch" not in conditioning:
        raise ValueError("this checkpoint is not conditioned on pitch: an instrument needs a note at every key")
    velocity_layers(velocities)  # refuses bad velocities before any sampling
    if not (isinstance(variants, int) and variants >= 1):
        raise ValueError(f"variants must be an integer >= 1, got {variants!r}")
    pitches = sorted(conditioning["pitch"])
    request = {} if instrument is None else {"instrument": instrument}
    notes = {}
    for variant in range(variants):
        generator = generator_for(variant)
        keys = [(pitch, velocity, variant) for velocity in velocities for pitch in pitches]
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            notes.update(zip(chunk, draw([{**request, "pitch": pitch} for pitch, _, _ in chunk], generator)))
    return notes


def make_instrument(name: str, sample_rate: int, notes: dict, source: str, extend: int = 0) -> Instrument:
    """The Instrument of generated `notes` {(pitch, velocity, variant): clip}, described in its comment."""
    instrument = Instrument(name, sample_rate, regions_from_notes(notes, sample_rate, extend))
    return dataclasses.replace(instrument, comment=describe(instrument, source))
