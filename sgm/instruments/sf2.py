"""Writing an Instrument as a SoundFont 2.01 file (RIFF 'sfbk'), for FluidSynth, DAW samplers and browsers.

The file holds one preset per variant (bank 0, programs from the instrument's own; SF2 has no round robin), each
preset one instrument whose global zone carries the volume envelope and whose other zones map
one 16-bit sample each onto its keys and velocities, with the root key set. Every chunk follows
the SoundFont 2.04 specification: the terminal records of every list, 46 zero points after each
sample, generators in the order it requires (key range first, velocity range second, the
sample or instrument last).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

from sgm.instruments.instrument import LOOP_MARGIN, Instrument, Region

SAMPLE_PADDING = 46  # zero points after every sample, as the specification asks

# generator operators (SoundFont 2.04, section 8.1.3)
DELAY_VOL_ENV, ATTACK_VOL_ENV, HOLD_VOL_ENV, DECAY_VOL_ENV, SUSTAIN_VOL_ENV, RELEASE_VOL_ENV = 33, 34, 35, 36, 37, 38
INSTRUMENT, KEY_RANGE, VEL_RANGE, SAMPLE_ID, SAMPLE_MODES, OVERRIDING_ROOT_KEY = 41, 43, 44, 53, 54, 58
NO_LOOP, LOOP_WHILE_HELD = 0, 3  # sampleModes: 3 loops during key depression, then plays the remainder
MONO_SAMPLE = 1


def timecents(seconds: float) -> int:
    return round(1200 * math.log2(seconds))


def _name(text: str) -> bytes:
    """A 20-byte zero-padded ASCII name."""
    return text.encode("ascii", "replace")[:19].ljust(20, b"\0")


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _list(tag: bytes, chunks: list[bytes]) -> bytes:
    return _chunk(b"LIST", tag + b"".join(chunks))


def _zstr(text: str) -> bytes:
    """A zero-terminated string padded to an even length, as INFO strings are."""
    data = text.encode("ascii", "replace") + b"\0"
    return data + (b"\0" if len(data) % 2 else b"")


def _range(operator: int, low: int, high: int) -> bytes:
    return struct.pack("<HBB", operator, low, high)


def _signed(operator: int, amount: int) -> bytes:
    return struct.pack("<Hh", operator, amount)


def _unsigned(operator: int, amount: int) -> bytes:
    return struct.pack("<HH", operator, amount)


def _pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


def _region_generators(region: Region, sample_id: int) -> list[bytes]:
    looped = region.loop is not None
    return [
        _range(KEY_RANGE, *region.keys),
        _range(VEL_RANGE, *region.velocities),
        _unsigned(SAMPLE_MODES, LOOP_WHILE_HELD if looped else NO_LOOP),
        _signed(OVERRIDING_ROOT_KEY, region.root_key),
        _unsigned(SAMPLE_ID, sample_id),
    ]


class _Zones:
    """The bag and generator lists of the preset or instrument level."""

    def __init__(self):
        self.bags: list[bytes] = []
        self.generators: list[bytes] = []

    def add(self, generators: list[bytes]) -> None:
        self.bags.append(struct.pack("<HH", len(self.generators), 0))
        self.generators += generators

    def chunks(self, prefix: bytes) -> list[bytes]:
        terminal_bag = struct.pack("<HH", len(self.generators), 0)
        return [
            _chunk(prefix + b"bag", b"".join(self.bags) + terminal_bag),
            _chunk(prefix + b"mod", bytes(10)),
            _chunk(prefix + b"gen", b"".join(self.generators) + bytes(4)),
        ]


def sf2_bytes(instrument: Instrument) -> bytes:
    """The SoundFont 2 file of `instrument`."""
    pcm, headers, position = [], [], 0
    for index, region in enumerate(instrument.regions):
        n = len(region.audio)
        loop_start, loop_end = region.loop or (LOOP_MARGIN, n - LOOP_MARGIN)  # unused by an unlooped zone, but valid
        headers.append(
            _name(f"{instrument.name[:10]} {index}")
            + struct.pack("<IIIII", position, position + n, position + loop_start, position + loop_end, instrument.sample_rate)
            + struct.pack("<BbHH", region.root_key, 0, 0, MONO_SAMPLE)
        )
        pcm.append(_pcm(region.audio) + bytes(2 * SAMPLE_PADDING))
        position += n + SAMPLE_PADDING
    headers.append(_name("EOS") + bytes(26))

    presets, preset_zones, instruments, instrument_zones = [], _Zones(), [], _Zones()
    envelope = instrument.envelope
    for index, variant in enumerate(instrument.variants()):
        name = instrument.name if len(instrument.variants()) == 1 else f"{instrument.name[:15]} {variant + 1}"
        instruments.append(_name(name) + struct.pack("<H", len(instrument_zones.bags)))
        instrument_zones.add([_signed(ATTACK_VOL_ENV, timecents(envelope.attack)), _signed(RELEASE_VOL_ENV, timecents(envelope.release))])
        for sample_id, region in enumerate(instrument.regions):
            if region.variant == variant:
                instrument_zones.add(_region_generators(region, sample_id))
        presets.append(_name(name) + struct.pack("<HHHIII", instrument.program + index, 0, len(preset_zones.bags), 0, 0, 0))
        preset_zones.add([_unsigned(INSTRUMENT, index)])
    presets.append(_name("EOP") + struct.pack("<HHHIII", 0, 0, len(preset_zones.bags), 0, 0, 0))
    instruments.append(_name("EOI") + struct.pack("<H", len(instrument_zones.bags)))

    info = [
        _chunk(b"ifil", struct.pack("<HH", 2, 1)),
        _chunk(b"isng", _zstr("EMU8000")),
        _chunk(b"INAM", _zstr(instrument.name)),
        _chunk(b"ISFT", _zstr("sgm-audio")),
    ]
    if instrument.comment:
        info.append(_chunk(b"ICMT", _zstr(instrument.comment)))
    pdta = [
        _chunk(b"phdr", b"".join(presets)),
        *preset_zones.chunks(b"p"),
        _chunk(b"inst", b"".join(instruments)),
        *instrument_zones.chunks(b"i"),
        _chunk(b"shdr", b"".join(headers)),
    ]
    body = b"sfbk" + _list(b"INFO", info) + _list(b"sdta", [_chunk(b"smpl", b"".join(pcm))]) + _list(b"pdta", pdta)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_sf2(instrument: Instrument, path: str | Path) -> None:
    Path(path).write_bytes(sf2_bytes(instrument))
