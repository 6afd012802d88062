"""A sampler instrument: recorded (here: generated) notes mapped onto keys, as SF2 and SFZ describe it.

Each region plays one sample over a range of keys and velocities, repitched from its root key,
and may carry a sustain loop: played while the key is held, the rest of the sample after the
key is released. Regions of the same `variant` form one round-robin set (SFZ) or one preset
(SF2, which has no round robin: programs `program`, `program` + 1, ...). The volume envelope is shared by all regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LOOP_SECONDS = (0.02, 0.12)  # a sustain loop spans whole periods within this length
LOOP_MARGIN = 32  # samples kept valid on either side of a loop (SF2 asks for 8; players interpolate)
HONEST_LOOP_ERROR = 0.1  # RMS mismatch across the seam, relative to the signal's RMS (-20 dB)


@dataclass(frozen=True)
class VolumeEnvelope:
    """Attack and release of every voice, in seconds; sustain at full level while the key is held."""

    attack: float = 0.002
    release: float = 0.1


@dataclass(frozen=True)
class Region:
    audio: np.ndarray  # mono float, [-1, 1]
    root_key: int  # the MIDI pitch the sample sounds at unshifted
    keys: tuple[int, int]  # lowest and highest key played by this sample, inclusive
    velocities: tuple[int, int] = (1, 127)
    loop: tuple[int, int] | None = None  # [start, end) sample indices looped while the key is held
    variant: int = 0


@dataclass(frozen=True)
class Instrument:
    name: str
    sample_rate: int
    regions: list[Region]
    envelope: VolumeEnvelope = field(default_factory=VolumeEnvelope)
    comment: str = ""
    program: int = 0  # the General MIDI program of the first variant's preset; the others follow it

    def __post_init__(self):
        if not self.regions:
            raise ValueError(f"instrument {self.name!r} has no regions")
        if not (0 <= self.program and self.program + len(self.variants()) <= 128):
            raise ValueError(f"instrument {self.name!r}: programs {self.program}.. of its {len(self.variants())} variants must lie in 0..127")
        for region in self.regions:
            low, high = region.keys
            if not (0 <= low <= high <= 127 and 0 <= region.root_key <= 127):
                raise ValueError(f"instrument {self.name!r}: keys {region.keys} and root key {region.root_key} must lie in 0..127, low <= high")
            if not 1 <= region.velocities[0] <= region.velocities[1] <= 127:
                raise ValueError(f"instrument {self.name!r}: velocities {region.velocities} must satisfy 1 <= low <= high <= 127")
            if region.audio.ndim != 1 or len(region.audio) < 2 * LOOP_MARGIN:
                raise ValueError(f"instrument {self.name!r}: every sample must be mono with at least {2 * LOOP_MARGIN} points")
            if region.loop is not None and not LOOP_MARGIN <= region.loop[0] < region.loop[1] <= len(region.audio) - LOOP_MARGIN:
                raise ValueError(f"instrument {self.name!r}: loop {region.loop} must lie inside the sample with {LOOP_MARGIN} points either side")

    def variants(self) -> list[int]:
        return sorted({region.variant for region in self.regions})


def key_ranges(pitches: list[int], extend: int = 0) -> dict[int, tuple[int, int]]:
    """The keys each of `pitches` plays: split halfway to its neighbours, the ends `extend` keys further."""
    pitches = sorted(set(pitches))
    if not pitches:
        raise ValueError("key_ranges needs at least one pitch")
    ranges = {}
    for i, pitch in enumerate(pitches):
        low = (pitches[i - 1] + pitch) // 2 + 1 if i else max(0, pitch - extend)
        high = (pitch + pitches[i + 1]) // 2 if i + 1 < len(pitches) else min(127, pitch + extend)
        ranges[pitch] = (low, high)
    return ranges


def velocity_layers(velocities: list[int]) -> list[tuple[int, int]]:
    """Velocity ranges for layers made at `velocities` (ascending): each reaches up to the next layer's."""
    velocities = sorted(velocities)
    if len(set(velocities)) != len(velocities) or not all(1 <= v <= 127 for v in velocities):
        raise ValueError(f"velocities must be distinct integers in 1..127, got {velocities}")
    bounds = [0] + [(a + b) // 2 for a, b in zip(velocities, velocities[1:])] + [127]
    return [(low + 1, high) for low, high in zip(bounds, bounds[1:])]


def find_loop(audio: np.ndarray, sample_rate: int, frequency_hz: float, search_from: float = 0.5, tail: int = 0) -> tuple[tuple[int, int], float] | None:
    """The sustain loop of whole periods that repeats best in the sample's steady part, and its seam error.

    Candidate loops span k periods (k chosen so k * period is closest to a whole number of samples)
    between LOOP_SECONDS, ending after `search_from` of the sample and before its last `tail`
    samples. The error is the RMS difference of a period either side of the seam, relative to the
    sample's RMS there; the loop is returned only when that is below HONEST_LOOP_ERROR, since a
    loop that does not repeat would buzz at the loop rate instead of sustaining the note.
    """
    period = sample_rate / frequency_hz
    window = max(8, round(period))
    counts = [k for k in range(1, 10_000) if LOOP_SECONDS[0] <= k * period / sample_rate <= LOOP_SECONDS[1]]
    if not counts:
        return None
    length = round(min(counts, key=lambda k: abs(k * period - round(k * period))) * period)
    last_end = len(audio) - tail - LOOP_MARGIN - window
    first_end = max(round(search_from * len(audio)), LOOP_MARGIN + window + length)
    best = None
    for end in range(first_end, last_end + 1):
        before, after = audio[end - window : end], audio[end - length - window : end - length]
        level = np.sqrt(np.mean(before**2) + 1e-20)
        error = np.sqrt(np.mean((before - after) ** 2)) / level
        if best is None or error < best[1]:
            best = ((end - length, end), float(error))
    return best if best is not None and best[1] < HONEST_LOOP_ERROR else None
