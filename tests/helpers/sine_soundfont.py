"""A minimal SoundFont 2 file built in the tests: one preset whose single sample is a looped sine.

Real SoundFonts are megabytes and their tuning is only approximately known; this one is a few KB and
its pitch is exact, so tests can check rendering against known numbers.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44000  # 100 samples per period of A4: the loop holds whole periods
ROOT_KEY = 69


def _chunk(tag: bytes, data: bytes) -> bytes:
    padded = data + b"\0" * (len(data) % 2)
    return tag + struct.pack("<I", len(data)) + padded


def _list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii").ljust(20, b"\0")


def write_sine_soundfont(path: Path, program: int = 0) -> Path:
    """Write an .sf2 whose bank-0 `program` plays a sine tuned so MIDI key 69 sounds at 440 Hz."""
    periods, period = 44, SAMPLE_RATE // 440
    sine = np.round(16000 * np.sin(2 * np.pi * np.arange(periods * period) / period)).astype("<i2")
    samples = sine.tobytes() + b"\0" * 2 * 46
    end = len(sine)
    # generators: 41 = instrument, 54 = sampleModes (1: loop), 53 = sampleID; every list ends in a terminal record
    pdta = [
        _chunk(b"phdr", struct.pack("<20sHHHIII", _name("sine"), program, 0, 0, 0, 0, 0)
               + struct.pack("<20sHHHIII", _name("EOP"), 0, 0, 1, 0, 0, 0)),
        _chunk(b"pbag", struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0)),
        _chunk(b"pmod", b"\0" * 10),
        _chunk(b"pgen", struct.pack("<HH", 41, 0) + struct.pack("<HH", 0, 0)),
        _chunk(b"inst", struct.pack("<20sH", _name("sine"), 0) + struct.pack("<20sH", _name("EOI"), 1)),
        _chunk(b"ibag", struct.pack("<HH", 0, 0) + struct.pack("<HH", 2, 0)),
        _chunk(b"imod", b"\0" * 10),
        _chunk(b"igen", struct.pack("<HH", 54, 1) + struct.pack("<HH", 53, 0) + struct.pack("<HH", 0, 0)),
        _chunk(b"shdr", struct.pack("<20sIIIIIBbHH", _name("sine"), 0, end, 0, end, SAMPLE_RATE, ROOT_KEY, 0, 0, 1)
               + struct.pack("<20sIIIIIBbHH", _name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    ]
    info = _list(
        b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"), _chunk(b"INAM", b"sine\0")
    )
    body = b"sfbk" + info + _list(b"sdta", _chunk(b"smpl", samples)) + _list(b"pdta", *pdta)
    path.write_bytes(_chunk(b"RIFF", body))
    return path
