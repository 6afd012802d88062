"""Resume a killed training run only when nothing that determines it changed.

A run that stops before its end keeps its last.pt (sgm.training.loop) beside a fingerprint of
everything that determines it: the params it reads, the hash of every file of its data set and of
every module of this project loaded in the process. A later run continues from last.pt when the
fingerprint is the same, and otherwise starts afresh and says why in one line.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

import torch

FINGERPRINT_FILE = "fingerprint.json"
PROJECT_PACKAGES = ("sgm", "stages")


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def loaded_project_code() -> dict[str, str]:
    """{path: sha256} of every module of this project's packages loaded in this process."""
    root = Path.cwd().resolve()
    hashes = {}
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.split(".")[0] in PROJECT_PACKAGES and path:
            path = Path(path).resolve()
            hashes[path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)] = file_hash(path)
    return hashes


def fingerprint(params: dict, data_dir: Path) -> dict:
    """What determines a training run, as plain JSON data: the params it reads, data set files and code."""
    return {
        "params": params,
        "data": {path.as_posix(): file_hash(path) for path in sorted(Path(data_dir).rglob("*")) if path.is_file()},
        "code": loaded_project_code(),
    }


def differences(old, new, key: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old value, new value) of every leaf that differs between two JSON-like values."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for name in sorted(set(old) | set(new), key=str):
            found += differences(old.get(name, "(absent)"), new.get(name, "(absent)"), f"{key}.{name}" if key else str(name))
        return found
    return [] if old == new else [(key, old, new)]


def describe(change: tuple[str, object, object]) -> str:
    """'params.grid_point.lr 0.001 -> 0.003' for a param; just the file for data and code (their hashes say nothing)."""
    key, old, new = change
    return f"{key} {old} -> {new}" if key.startswith("params.") else key


def resume_point(partial: Path, current: dict) -> tuple[int | None, str]:
    """(the step to resume from, or None to start afresh; a one-line account of the decision).

    The account is empty when there is nothing to resume (no unfinished output).
    """
    last = partial / "checkpoints" / "last.pt"
    if not partial.is_dir():
        return None, ""
    try:
        saved = json.loads((partial / FINGERPRINT_FILE).read_text())
    except (OSError, ValueError):
        return None, f"starting afresh: {partial} has no readable {FINGERPRINT_FILE}"
    changed = differences(saved, current)
    if changed:
        shown = "; ".join(map(describe, changed[:3])) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")
        return None, f"starting afresh, not resuming {partial}: changed since it was saved: {shown}"
    if not last.is_file():
        return None, f"starting afresh: {partial} holds no saved state (killed before its first save)"
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        step, epoch = int(state["step"]), int(state["epoch"])
    except Exception as err:  # a damaged file is a reason to start again, not to stop
        return None, f"starting afresh: {last} is unreadable ({type(err).__name__})"
    return step, f"resuming {partial} from step {step} (epoch {epoch + 1}): params, data and code are unchanged"


def drop_log_rows_after(live_dir: Path, step: int) -> None:
    """Remove DVCLive's logged rows after `step` (logged after the last save; they are logged again)."""
    for table in Path(live_dir).rglob("*.tsv"):
        with open(table, newline="") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
        if rows and "step" in rows[0]:
            column = rows[0].index("step")
            kept = [rows[0]] + [row for row in rows[1:] if int(row[column]) <= step]
            with open(table, "w", newline="") as handle:
                csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(kept)
