"""Names: of what was asked for, as samples' file names carry them ("flute_G4", "Cs4", "3"), and of
instrument codes, as the data named them."""

from __future__ import annotations

from typing import Callable

from sgm.audio.pitch import note_name

NAMED_KINDS = ("instrument", "pitch", "digit")  # the label kinds, in the order names mention them


def describe(request: dict) -> str:
    """A file-name-safe description of a request, instrument first, e.g. "flute_G4" ("Cs4" for C#4)."""
    return "_".join(note_name(request[kind], sharp="s") if kind == "pitch" else str(request[kind]) for kind in NAMED_KINDS if kind in request)


def instrument_names(label_names: dict[str, dict[int, str]]) -> Callable[[int], str]:
    """code -> instrument name, "program_<code>" for a code the data did not name."""
    names = label_names.get("instrument", {})
    return lambda code: names.get(code, f"program_{code}")
