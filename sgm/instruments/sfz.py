"""Writing an Instrument as an SFZ file beside a folder of its WAVs (sfizz, Sforzando, most DAW samplers).

Round-robin variants become SFZ's own sequence (seq_length / seq_position), a sustain loop
loop_mode=loop_sustain with SFZ's inclusive loop_end.
"""

from __future__ import annotations

from pathlib import Path

from sgm.audio.wav import write_wav
from sgm.instruments.instrument import Instrument, Region


def sample_name(region: Region) -> str:
    return f"{region.root_key:03d}_v{region.velocities[1]:03d}_rr{region.variant + 1}.wav"


def sfz_text(instrument: Instrument, folder: str) -> str:
    """The SFZ text of `instrument`, its samples named by sample_name() inside `folder`."""
    variants = instrument.variants()
    envelope = instrument.envelope
    lines = [f"// {instrument.name}: {instrument.comment}" if instrument.comment else f"// {instrument.name}"]
    lines += ["<control>", f"default_path={folder}/", "<global>", f"ampeg_attack={envelope.attack:g} ampeg_release={envelope.release:g}"]
    for position, variant in enumerate(variants, start=1):
        lines.append(f"<group> seq_length={len(variants)} seq_position={position}" if len(variants) > 1 else "<group>")
        for region in (r for r in instrument.regions if r.variant == variant):
            opcodes = [
                f"sample={sample_name(region)}",
                f"pitch_keycenter={region.root_key}",
                f"lokey={region.keys[0]} hikey={region.keys[1]}",
                f"lovel={region.velocities[0]} hivel={region.velocities[1]}",
            ]
            if region.loop is not None:
                opcodes.append(f"loop_mode=loop_sustain loop_start={region.loop[0]} loop_end={region.loop[1] - 1}")
            else:
                opcodes.append("loop_mode=no_loop")
            lines.append("<region> " + " ".join(opcodes))
    return "\n".join(lines) + "\n"


def write_sfz(instrument: Instrument, path: str | Path) -> Path:
    """`path` (NAME.sfz) and its samples in NAME_samples/ beside it; returns the samples' folder."""
    path = Path(path)
    folder = path.with_name(f"{path.stem}_samples")
    folder.mkdir(parents=True, exist_ok=True)
    for region in instrument.regions:
        write_wav(folder / sample_name(region), region.audio, instrument.sample_rate)
    path.write_text(sfz_text(instrument, folder.name))
    return folder
