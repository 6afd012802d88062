"""Run a named params preset as a DVC experiment: python -m stages.preset NAME [--print | --write FILE].

A preset is a YAML file presets/NAME.yaml holding the keys it changes, nested as in params.yaml;
its `grid`, `archs` and `train.sde` replace params.yaml's whole mapping (so they list exactly what
the preset wants), other mappings merge key by key. The command turns the difference into `dvc exp run -S` overrides
(`key=value`, `++key=value` for new keys, `~key` for removed ones), so every preset run is an
ordinary experiment that `dvc exp show` compares with the rest; params.yaml itself is never edited.
`--print` prints the command instead of running it; `--write FILE` writes the merged params there.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from stages.common.outputs import StageError, run_stage
from stages.common.params import PARAMS_FILE, Params, ParamsError, format_errors

PRESETS_DIR = Path("presets")
REPLACED_MAPPINGS = {("grid",), ("archs",), ("train", "sde")}


def read_yaml(path: Path) -> dict:
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text())
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))) or "none"
        raise StageError(f"{path}: no such file; presets: {known}") from None
    except YAMLError as err:
        raise StageError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise StageError(f"{path}: expected a mapping of params sections, got {type(data).__name__}")
    return data


def merged(base: dict, overrides: dict, path: tuple = ()) -> dict:
    """base with overrides applied: nested mappings merge key by key, except REPLACED_MAPPINGS and leaves."""
    result = dict(base)
    for key, value in overrides.items():
        here = (*path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict) and here not in REPLACED_MAPPINGS:
            result[key] = merged(base[key], value, here)
        else:
            result[key] = value
    return result


def hydra_value(value) -> str:
    """A value in the override grammar DVC's -S takes (JSON-like flow style, strings quoted when needed)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value.replace("_", "").replace("-", "").isalnum() and not value[0].isdigit() else json.dumps(value)
    return json.dumps(value)


def overrides(base: dict, target: dict, prefix: str = "") -> list[str]:
    """The -S overrides that turn base into target."""
    flags = []
    for key in target:
        name = f"{prefix}{key}"
        if key not in base:
            flags.append(f"++{name}={hydra_value(target[key])}")
        elif isinstance(target[key], dict) and isinstance(base[key], dict):
            flags += overrides(base[key], target[key], f"{name}.")
        elif target[key] != base[key]:
            flags.append(f"{name}={hydra_value(target[key])}")
    flags += [f"~{prefix}{key}" for key in base if key not in target]
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m stages.preset", description=__doc__.splitlines()[0])
    parser.add_argument("name")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--print", action="store_true", help="print the dvc exp run command, do not run it")
    action.add_argument("--write", type=Path, metavar="FILE", help="write the merged params to FILE (not params.yaml)")
    args = parser.parse_args()
    base = read_yaml(PARAMS_FILE)
    target = merged(base, read_yaml(PRESETS_DIR / f"{args.name}.yaml"))
    try:
        Params.model_validate(target)
    except Exception as err:  # pydantic's ValidationError: report it as params errors, naming the preset
        raise ParamsError(f"preset {args.name} gives invalid params:\n{format_errors(err)}") from None
    if args.write:
        if args.write.resolve() == PARAMS_FILE.resolve():
            raise StageError("--write would overwrite params.yaml; run the preset as an experiment instead")
        YAML(typ="safe", pure=True).dump(target, args.write)
        return
    command = ["dvc", "exp", "run", "-n", args.name, *[arg for flag in overrides(base, target) for arg in ("-S", flag)]]
    if args.print:
        print(shlex.join(command))
        return
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    run_stage(main)
