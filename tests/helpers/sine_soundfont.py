"""A minimal SoundFont 2 file built in the tests: one preset whose single sample is a looped sine.

Real SoundFonts are megabytes and their tuning is only approximately known; this one is a few KB and
its pitch is exact, so tests can check rendering against known numbers. It is written by the
project's own SF2 writer (sgm.instruments.sf2), which tests/audio/test_instrument_files.py checks in
FluidSynth and tinysoundfont.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sgm.instruments.instrument import Instrument, Region
from sgm.instruments.sf2 import write_sf2

SAMPLE_RATE = 44000  # 100 samples per period of A4: the loop holds whole periods
ROOT_KEY = 69
PERIOD = SAMPLE_RATE // 440


def write_sine_soundfont(path: Path, program: int = 0) -> Path:
    """Write an .sf2 whose bank-0 `program` plays a sine tuned so MIDI key 69 sounds at 440 Hz."""
    sine = 16000 / 32767 * np.sin(2 * np.pi * np.arange(46 * PERIOD) / PERIOD)
    region = Region(sine.astype(np.float32), ROOT_KEY, (0, 127), loop=(PERIOD, 45 * PERIOD))
    write_sf2(Instrument("sine", SAMPLE_RATE, [region], program=program), path)
    return path
