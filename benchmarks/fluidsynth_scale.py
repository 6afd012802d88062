"""An exported instrument played by FluidSynth: every key's pitch as CREPE hears it.

Writes a MIDI file holding each key of the SF2's first preset for NOTE seconds (then as long
silent), renders it with Debian's `fluidsynth` command-line player, and prints the share of keys
pitched and within 50 cents of the key, for the trained keys (their own samples) and the keys
between or beyond them (repitched), with FluidSynth's own output lines.

    python -m benchmarks.fluidsynth_scale play/instrument.sf2
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pretty_midi
import torch
from sf2utils.sf2parse import Sf2File

from sgm.audio.wav import read_wav
from sgm.notes.crepe import analyze
from sgm.notes.metrics import pitch_accuracy, pitchedness

NOTE = 0.3
RATE = 44100
THRESHOLD = 0.5


def keys_and_roots(path: Path) -> tuple[list[int], set[int]]:
    """Every key the first preset's instrument plays, and the root keys of its samples."""
    with path.open("rb") as file:
        zones = [bag for bag in Sf2File(file).instruments[0].bags if bag.sample is not None]
    keys = sorted({key for bag in zones for key in range(bag.key_range[0], bag.key_range[1] + 1)})
    return keys, {bag.base_note for bag in zones}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sf2", type=Path)
    args = parser.parse_args()
    keys, roots = keys_and_roots(args.sf2)
    with tempfile.TemporaryDirectory() as folder:
        midi_path, wav_path = Path(folder) / "keys.mid", Path(folder) / "keys.wav"
        midi = pretty_midi.PrettyMIDI()
        track = pretty_midi.Instrument(program=0)
        track.notes = [pretty_midi.Note(100, key, 2 * i * NOTE, (2 * i + 1) * NOTE) for i, key in enumerate(keys)]
        midi.instruments.append(track)
        midi.write(str(midi_path))
        run = subprocess.run(["fluidsynth", "-ni", "-q", "-r", str(RATE), "-F", str(wav_path), str(args.sf2), str(midi_path)], capture_output=True, text=True, check=True)
        audio, _ = read_wav(wav_path)
    mono = audio.mean(0)
    held = round(NOTE * RATE)
    notes = torch.from_numpy(np.stack([mono[2 * i * held : (2 * i + 1) * held] for i in range(len(keys))]).copy())
    analysis = analyze(notes, RATE)
    print(f"FluidSynth said: {(run.stdout + run.stderr).strip() or 'nothing'}; peak {np.abs(mono).max():.3f}")
    for name, chosen in (("trained keys", [k in roots for k in keys]), ("repitched keys", [k not in roots for k in keys])):
        index = torch.tensor(chosen)
        if not index.any():
            continue
        subset = type(analysis)(analysis.f0_hz[index], analysis.periodicity[index], analysis.embedding[index])
        target = torch.tensor([k for k, c in zip(keys, chosen) if c], dtype=torch.float32)
        print(f"{name}: {int(index.sum())}, pitched {pitchedness(subset, THRESHOLD):.0%}, at pitch {pitch_accuracy(subset, THRESHOLD, target):.0%}")


if __name__ == "__main__":
    main()
