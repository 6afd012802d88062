"""`sgm-generate`: play with a trained checkpoint from the command line.

    sgm-generate notes CKPT --instrument flute --pitch G4 A4 -n 2
    sgm-generate notes CKPT --instrument flute --scale chromatic --pitch G4
    sgm-generate continue CKPT clip.wav --keep-ms 150       (or --span 100 200: regenerate that span)
    sgm-generate vary CKPT clip.wav --strength 0.3 -n 4
    sgm-generate interpolate CKPT a.wav b.wav --between 6
    sgm-generate midi CKPT tune.mid --instrument flute --seconds 10
    sgm-generate instrument CKPT --instrument flute --out flute.sf2  (--format sfz: flute.sfz + WAVs)
    sgm-generate keyboard CKPT my_note.wav --pitch A4 --out mine.sf2

Every command writes WAV files named after what was asked into --out, plus settings.json (the
arguments, the sampler's settings, the NFE and the seconds spent); instrument and keyboard write
the instrument file --out and its settings beside it (flute.sf2 -> flute.json), and refuse an
--out that exists unless --force is given. Audio is mapped to and from the
model with the layout of the data it was trained on (--layout, default data/tensors/layout.json).
What a flag does not set comes from the project's params (--params, default params.yaml): the
sampler, its steps and the guidance from its `play` section, the sampler's other settings from
`sample`, as the play stage takes them. A bad input stops the command with one line naming it,
before any sampling.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch
from ruamel.yaml import YAML, YAMLError

from sgm.audio.ingest import conform, read_audio
from sgm.audio.pitch import note_name, parse_pitch
from sgm.audio.wav import write_wav
from sgm.core.samplers import SAMPLERS
from sgm.generation.inpainting import inpaint
from sgm.generation.instrument import generate_notes, make_instrument
from sgm.generation.interpolation import interpolate
from sgm.generation.keyboard import KEYBOARD_STRENGTH, check_reference, detect_pitch, model_keyboard
from sgm.generation.midi import Envelope, excerpt, read_midi, render
from sgm.generation.requests import request_name, requests_for, scale_pitches
from sgm.generation.session import Session
from sgm.generation.variation import vary
from sgm.instruments.sf2 import write_sf2
from sgm.instruments.sfz import write_sfz
from sgm.kinds import read_layout_file
from sgm.kinds.layout import Layout

STEP_SAMPLERS = ("euler_maruyama", "predictor_corrector", "heun")
MINIMUMS = {"n": 1, "between": 0, "resample": 1, "octaves": 1, "variants": 1, "extend": 0}


def read_params(path: Path) -> dict:
    """The `play` and `sample` sections of a project's params.yaml."""
    try:
        params = YAML(typ="safe", pure=True).load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"params file {path} does not exist; sgm-generate takes its default settings from the project's params.yaml (pass --params FILE)") from None
    except YAMLError as err:
        raise ValueError(f"params file {path} is not valid YAML: {err}".replace("\n", " ")) from None
    missing = [section for section in ("play", "sample") if not isinstance((params or {}).get(section), dict)]
    if missing:
        raise ValueError(f"params file {path} has no {' or '.join(missing)} section")
    return params


def read_layout(path: Path) -> Layout:
    """The note layout in the layout.json at `path`."""
    try:
        layout = read_layout_file(path)
    except FileNotFoundError:
        raise ValueError(f"layout file {path} does not exist; pass --layout data/tensors/layout.json of the checkpoint's data") from None
    if not hasattr(layout, "keep_mask"):
        raise ValueError(f"layout file {path} describes {layout.kind}, not single-note clips: sgm-generate plays note models only")
    return layout


def resolve_defaults(args, params: dict) -> None:
    """Fill the flags left unset from the params' play section."""
    play = params["play"]
    for flag, key in (("sampler", "sampler"), ("guidance", "guidance"), ("guidance_interval", "guidance_interval")):
        if getattr(args, flag) is None:
            setattr(args, flag, play[key])
    if args.steps is None and args.sampler == play["sampler"]:
        args.steps = play["steps"]
    for flag in ("rtol", "atol"):
        if getattr(args, flag) is None:
            setattr(args, flag, (play["ode"] if args.command == "interpolate" else params["sample"]["probability_flow_ode"])[flag])


def sampler_settings(args, params: dict) -> dict:
    """The sampler's settings: the params' `sample.<sampler>` section with the flags applied."""
    settings = dict(params["sample"][args.sampler])
    if args.sampler not in STEP_SAMPLERS:
        if args.steps is not None:
            raise ValueError(f"--steps applies to {', '.join(STEP_SAMPLERS)}, not {args.sampler} (use --rtol/--atol)")
        return {**settings, "rtol": args.rtol, "atol": args.atol}
    return settings if args.steps is None else {**settings, "steps": args.steps}


def read_mono(path: str, layout: Layout) -> np.ndarray:
    """An audio file's first clip length, mono at the layout's rate (resampled)."""
    try:
        audio, rate = read_audio(Path(path))
    except FileNotFoundError:
        raise ValueError(f"audio file {path} does not exist") from None
    except ValueError as err:
        raise ValueError(f"audio file {path}: {err}") from None
    if rate != layout.sample_rate:
        print(f"note: {path} is at {rate} Hz; resampled to the model's {layout.sample_rate} Hz", file=sys.stderr)
    return conform(audio, rate, layout.sample_rate, 1)[0][: layout.clip_samples]


def read_clip(path: str, layout: Layout) -> tuple[torch.Tensor, str]:
    """The first clip of an audio file, mono at the layout's rate (resampled, zero-padded if short), and its stem."""
    mono = read_mono(path, layout)
    if len(mono) < layout.clip_samples:
        print(f"note: {path} is shorter than one clip ({len(mono)} < {layout.clip_samples} samples); padded with silence", file=sys.stderr)
        mono = np.pad(mono, (0, layout.clip_samples - len(mono)))
    return torch.from_numpy(mono), Path(path).stem


def sample_mask(layout: Layout, keep_ms, span) -> tuple[torch.Tensor, str]:
    """The kept samples (L,) of --keep-ms or --span (milliseconds), checked against the clip, and a name for them."""
    duration = 1000 * layout.clip_samples / layout.sample_rate
    at = np.arange(layout.clip_samples) * 1000 / layout.sample_rate
    if keep_ms is not None:
        if not 0 < keep_ms < duration:
            raise ValueError(f"mask outside the clip: --keep-ms {keep_ms:g} must lie strictly between 0 and the clip's {duration:.1f} ms")
        return torch.from_numpy(at < keep_ms), f"keep{keep_ms:g}ms"
    start, end = span
    if not 0 <= start < end <= duration:
        raise ValueError(f"mask outside the clip: --span {start:g} {end:g} must satisfy 0 <= start < end <= {duration:.1f} ms (the clip's length)")
    return torch.from_numpy((at < start) | (at >= end)), f"span{start:g}-{end:g}ms"


class Command:
    """One command's session, params and sampler settings; what it writes is listed in `files`."""

    def __init__(self, args, session: Session, params: dict, settings: dict):
        self.args, self.session, self.params, self.settings = args, session, params, settings
        self.generator = session.generator()
        self.files: list[str] = []

    def one_label(self):
        """The label row of the single --instrument/--pitch given (or None)."""
        requests = requests_for(self.session.conditioning, self.args.instrument or (), self.args.pitch or ())
        return self.session.labels(requests[:1])

    def score(self):
        return self.session.score(self.one_label(), self.args.guidance, self.args.guidance_interval)

    def notes(self, requests: list[dict], generator=None) -> torch.Tensor:
        args = self.args
        return self.session.notes(args.command, requests, args.sampler, self.settings, args.guidance, args.guidance_interval, generator or self.generator)

    def save(self, name: str, audio: np.ndarray) -> None:
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_wav(out / f"{name}.wav", np.clip(audio, -1, 1), self.session.layout.sample_rate)
        self.files.append(f"{name}.wav")

    def save_model_clips(self, names, x: torch.Tensor) -> None:
        for name, clip in zip(names, self.session.audio(x)):
            self.save(name, clip)


def cmd_notes(command: Command, args) -> dict:
    pitches = args.pitch or []
    conditioning = command.session.conditioning
    if args.scale:
        if len(pitches) > 1:
            raise ValueError("--scale takes one root --pitch (or none: the lowest trained pitch)")
        known = sorted(conditioning.get("pitch", []))
        if not pitches and not known:
            raise ValueError("--scale needs pitch labels, and this checkpoint has none")
        root = parse_pitch(pitches[0]) if pitches else known[0]
        pitches = scale_pitches(args.scale, root, args.octaves)
    requests = requests_for(conditioning, args.instrument or (), pitches, args.n)
    x = command.notes(requests)
    names, seen = [], {}
    for request in requests:
        stem = request_name(request)
        names.append(f"{stem}_{seen.setdefault(stem, 0)}")
        seen[stem] += 1
    command.save_model_clips(names, x)
    return {"requests": requests}


def cmd_continue(command: Command, args) -> dict:
    session = command.session
    clip, stem = read_clip(args.wav, session.layout)
    keep_samples, what = sample_mask(session.layout, args.keep_ms, args.span)
    known = session.layout.to_model(clip[None].repeat(args.n, 1)).to(session.device)
    keep = session.layout.keep_mask(keep_samples).to(session.device)
    x = session.run("continue", inpaint, command.score(), session.sde, known, keep, args.sampler, command.settings, resample=args.resample, generator=command.generator)
    command.save_model_clips([f"{stem}_{what}_{k}" for k in range(args.n)], x)
    return {"mask": what, "resample": args.resample}


def cmd_vary(command: Command, args) -> dict:
    session = command.session
    clip, stem = read_clip(args.wav, session.layout)
    x0 = session.layout.to_model(clip[None].repeat(args.n, 1)).to(session.device)
    x = session.run("vary", vary, command.score(), session.sde, x0, args.strength, args.sampler, command.settings, generator=command.generator)
    command.save_model_clips([f"{stem}_vary{args.strength:g}_{k}" for k in range(args.n)], x)
    return {"strength": args.strength}


def cmd_interpolate(command: Command, args) -> dict:
    session = command.session
    (a, stem_a), (b, stem_b) = (read_clip(path, session.layout) for path in args.wavs)
    ends = session.layout.to_model(torch.stack([a, b])).to(session.device)
    eps = command.params["sample"]["probability_flow_ode"]["eps"]
    x = session.run("interpolate", interpolate, command.score(), session.sde, ends[0], ends[1], args.between, args.rtol, args.atol, eps)
    command.save_model_clips([f"{stem_a}_to_{stem_b}_{i:02d}" for i in range(len(x))], x)
    return {"between": args.between, "rtol": args.rtol, "atol": args.atol}


def cmd_midi(command: Command, args) -> dict:
    session = command.session
    notes = read_midi(args.midi)
    if args.seconds is not None:
        notes = excerpt(notes, args.seconds)
    notes = [dataclasses.replace(n, pitch=n.pitch + args.transpose) for n in notes]
    instruments = args.instrument or []
    known = session.conditioning.get("pitch")
    outside = sorted({n.pitch for n in notes} - set(known)) if known else []
    if outside:
        raise ValueError(
            f"MIDI file {args.midi} has pitches {', '.join(note_name(p) for p in outside)} outside the trained range "
            f"{note_name(min(known))}-{note_name(max(known))}: pass --transpose SEMITONES or --seconds"
        )
    requests_for(session.conditioning, instruments, [notes[0].pitch])  # refuse bad labels before any sampling

    def clips_for(pitch: int, count: int) -> np.ndarray:
        return session.audio(command.notes(requests_for(session.conditioning, instruments, [pitch], count)))

    layout = session.layout
    mix = render(notes, clips_for, layout.sample_rate, layout.clip_samples, fade=args.fade, envelope=Envelope())
    command.save(f"{Path(args.midi).stem}_{instruments[0] if instruments else 'model'}", mix)
    return {"notes": len(notes), "seconds_of_audio": len(mix) / layout.sample_rate, "transpose": args.transpose, "fade": args.fade}


def instrument_file(command: Command, notes: dict, name: str, source: str) -> dict:
    """Write the instrument of `notes` to --out (SF2 or SFZ with its WAVs); returns what settings.json records."""
    args, rate = command.args, command.session.layout.sample_rate
    instrument = make_instrument(name, rate, notes, f"{source}; {args.sampler} sampler, seed {args.seed}", extend=args.extend)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "sfz":
        command.files += [out.name, f"{write_sfz(instrument, out).name}/"]
    else:
        write_sf2(instrument, out)
        command.files.append(out.name)
    print(instrument.comment)
    return {"format": args.format, "samples": len(instrument.regions), "looped": sum(r.loop is not None for r in instrument.regions), "comment": instrument.comment}


def cmd_instrument(command: Command, args) -> dict:
    session = command.session
    name = (requests_for(session.conditioning, args.instrument or ())[0] if args.instrument else {}).get("instrument")

    def draw(requests, generator):
        return session.audio(command.notes(requests, generator))

    notes = generate_notes(session.conditioning, name, args.velocities, args.variants, draw, session.generator)
    made = instrument_file(command, notes, name or "model", f"made by sgm-generate from {Path(args.checkpoint).name}")
    return {"velocities": args.velocities, "variants": args.variants, **made}


def cmd_keyboard(command: Command, args) -> dict:
    session, params = command.session, command.params
    layout, conditioning = session.layout, session.conditioning
    if "pitch" not in conditioning:
        raise ValueError("a keyboard needs a pitch-conditional checkpoint: this one takes no pitch labels")
    clip = read_mono(args.wav, layout)
    check_reference(clip, layout.sample_rate, args.wav)
    if args.pitch:
        pitch = parse_pitch(args.pitch[0])
    else:
        evaluate = params.get("evaluate")
        if not isinstance(evaluate, dict):
            raise ValueError(f"params file {args.params} has no evaluate section to detect the reference's pitch with; pass --pitch")
        pitch = detect_pitch(clip, layout.sample_rate, evaluate["periodicity_threshold"], evaluate["crepe_model"], args.wav)
        print(f"note: {args.wav} sounds at {note_name(pitch)} (MIDI {pitch})", file=sys.stderr)
    clip = np.pad(clip, (0, layout.clip_samples - len(clip)))
    targets = sorted(conditioning["pitch"])
    requests = requests_for(conditioning, args.instrument or (), targets)
    audio = model_keyboard(session, clip, pitch, requests, args.strength, args.sampler, command.settings, args.guidance, args.guidance_interval)
    notes = {(target, 127, 0): note for target, note in zip(targets, audio)}
    made = instrument_file(command, notes, Path(args.wav).stem, f"a keyboard made by sgm-generate from {Path(args.wav).name} ({note_name(pitch)}) with {Path(args.checkpoint).name}, SDEdit strength {args.strength:g}")
    return {"reference_pitch": pitch, "strength": args.strength, **made}


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("checkpoint", help="a checkpoint written by the train stage (runs/POINT/train/checkpoints/epoch_NNN.pt)")
    common.add_argument("--layout", default="data/tensors/layout.json", help="layout.json of the data the checkpoint was trained on")
    common.add_argument("--params", default="params.yaml", help="the project's params, for every setting a flag leaves unset")
    common.add_argument("--sampler", choices=list(SAMPLERS), help="default: play.sampler of --params")
    common.add_argument("--steps", type=int, help="steps of euler_maruyama, predictor_corrector or heun (default: play.steps for play.sampler, else sample.SAMPLER.steps)")
    common.add_argument("--rtol", type=float, help="probability-flow ODE tolerance (default: sample.probability_flow_ode, or play.ode for interpolate)")
    common.add_argument("--atol", type=float)
    common.add_argument("--guidance", type=float, help="classifier-free guidance weight w of conditional checkpoints (default: play.guidance)")
    common.add_argument(
        "--guidance-interval", type=float, nargs=2, metavar=("LOW", "HIGH"), help="guide only at noise levels in [LOW, HIGH] (default: play.guidance_interval)"
    )
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--out", default="generated", help="folder for the WAV files and settings.json")
    common.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    common.add_argument("--instrument", nargs="+", help="instrument name(s) or General MIDI program number(s)")
    common.add_argument("--pitch", nargs="+", help="MIDI pitch(es) or note name(s) like G4")

    top = argparse.ArgumentParser(prog="sgm-generate", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    notes = commands.add_parser("notes", parents=[common], help="notes at the requested instruments and pitches")
    notes.add_argument("-n", type=int, default=1, help="notes per instrument x pitch")
    notes.add_argument("--scale", help="a scale from the root --pitch: chromatic, major, minor, pentatonic, blues, whole_tone")
    notes.add_argument("--octaves", type=int, default=1)
    cont = commands.add_parser("continue", parents=[common], help="regenerate part of a clip consistently with the rest")
    cont.add_argument("wav")
    mask = cont.add_mutually_exclusive_group(required=True)
    mask.add_argument("--keep-ms", type=float, help="keep the first N ms, generate the rest")
    mask.add_argument("--span", type=float, nargs=2, metavar=("START_MS", "END_MS"), help="regenerate this span, keep the rest")
    cont.add_argument("--resample", type=int, default=1, help="RePaint resampling per step (stochastic samplers; > 1 fits better, costs more)")
    cont.add_argument("-n", type=int, default=1)
    var = commands.add_parser("vary", parents=[common], help="variations of a clip (SDEdit)")
    var.add_argument("wav")
    var.add_argument("--strength", type=float, default=0.5, help="noise up to strength * T: small = nearly the same, 1 = a new note")
    var.add_argument("-n", type=int, default=1)
    inter = commands.add_parser("interpolate", parents=[common], help="clips between two clips through the probability-flow ODE")
    inter.add_argument("wavs", nargs=2, metavar="WAV")
    inter.add_argument("--between", type=int, default=5)
    midi = commands.add_parser("midi", parents=[common], help="play a MIDI file with generated notes")
    midi.add_argument("midi")
    midi.add_argument("--seconds", type=float, help="only the first N seconds")
    midi.add_argument("--transpose", type=int, default=0, help="semitones added to every note")
    midi.add_argument("--fade", type=float, default=0.05, help="crossfade between successive clips of a long note, seconds")
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("--format", choices=("sf2", "sfz"), default="sf2", help="SoundFont 2, or SFZ with its WAVs in OUT_samples/")
    files.add_argument("--extend", type=int, default=0, help="keys played beyond the lowest and highest trained pitch (repitched)")
    files.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    instrument = commands.add_parser("instrument", parents=[common, files], help="an SF2 or SFZ instrument: a generated note at every trained pitch")
    instrument.add_argument("--velocities", type=int, nargs="+", default=[127], help="one layer of notes per velocity (each its own draw)")
    instrument.add_argument("--variants", type=int, default=1, help="round-robin variants (SF2: one preset each; SFZ: a sequence)")
    keyboard = commands.add_parser("keyboard", parents=[common, files], help="an instrument from one note of your own: its timbre at every trained pitch")
    keyboard.add_argument("wav")
    keyboard.add_argument("--strength", type=float, default=KEYBOARD_STRENGTH, help="SDEdit strength of the repitched note (0 keeps it, 1 redraws it)")
    for command in (instrument, keyboard):
        command.set_defaults(out=None)
    return top


COMMANDS = {
    "notes": cmd_notes, "continue": cmd_continue, "vary": cmd_vary, "interpolate": cmd_interpolate, "midi": cmd_midi,
    "instrument": cmd_instrument, "keyboard": cmd_keyboard,
}  # fmt: skip
WRITES_FILE = ("instrument", "keyboard")


def check_out(args) -> Path:
    """Where settings.json goes; for instrument and keyboard, --out resolved and refused if it exists."""
    if args.command not in WRITES_FILE:
        return Path(args.out) / "settings.json"
    if args.out is None:
        stem = Path(args.wav).stem if args.command == "keyboard" else (args.instrument or ["model"])[0]
        args.out = f"{stem}.{args.format}"
    out = Path(args.out)
    if out.suffix != f".{args.format}":
        raise ValueError(f"--out {out} must end in .{args.format} for --format {args.format}")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; pass --force to overwrite it")
    return out.with_suffix(".json")


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        for flag, least in MINIMUMS.items():
            if getattr(args, flag, least) < least:
                raise ValueError(f"{'-' if flag == 'n' else '--'}{flag} must be at least {least}, got {getattr(args, flag)}")
        if args.command != "notes" and (len(args.instrument or []) > 1 or len(args.pitch or []) > 1):
            raise ValueError(f"{args.command} takes at most one --instrument and one --pitch")
        if args.command in ("midi", "instrument") and args.pitch:
            raise ValueError(f"{args.command} takes its pitches from the {'MIDI file' if args.command == 'midi' else 'checkpoint'}, not from --pitch")
        settings_file = check_out(args)
        params = read_params(Path(args.params))
        resolve_defaults(args, params)
        settings = sampler_settings(args, params)
        layout = read_layout(Path(args.layout))
        command = Command(args, Session(args.checkpoint, layout, args.seed, device=args.device), params, settings)
        extra = COMMANDS[args.command](command, args)
    except ValueError as err:
        print(f"sgm-generate: error: {err}", file=sys.stderr)
        return 2
    cost = command.session.cost.values()
    record = {
        "command": args.command,
        "checkpoint": str(args.checkpoint),
        "sampler": args.sampler,
        "settings": settings,
        "guidance": args.guidance,
        "guidance_interval": args.guidance_interval,
        "seed": args.seed,
        **extra,
        "nfe": sum(c["nfe"] for c in cost),
        "seconds": sum(c["seconds"] for c in cost),
        "files": command.files,
    }
    settings_file.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
