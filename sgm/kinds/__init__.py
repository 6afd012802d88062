"""The kinds of data the pipeline models, in one table: single notes, melodies, images.

A kind is a package with a `layouts` module (LAYOUTS, its tensor layouts) and a `kind` module
(KIND, the DataKind that renders, reads, saves, scores and draws its data; sgm.kinds.kind). Stages
look their kind up here once and ask it; they do not branch on its name. A kind's code is imported
only when it is asked for, so one kind's stages never load another's. A new kind is one new
package plus an entry in KINDS.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KindEntry:
    package: str
    sources: tuple[str, ...]  # the render.source values that make this kind of data
    labels: tuple[str, ...]  # the label kinds (train.conditioning) its data carries


KINDS = {
    "notes": KindEntry("sgm.notes", sources=("soundfont", "folder"), labels=("pitch", "instrument")),
    "images": KindEntry("sgm.images", sources=("idx", "digits"), labels=("digit",)),
    "melodies": KindEntry("sgm.melodies", sources=("melody",), labels=()),
}


def kind_entry(name: str) -> KindEntry:
    """The table's entry for kind `name`; ValueError naming the known kinds."""
    if name not in KINDS:
        raise ValueError(f"unknown kind of data {name!r}; accepted: {', '.join(KINDS)}")
    return KINDS[name]


def data_kind(name: str):
    """The DataKind of kind `name` (its package's kind.KIND)."""
    return importlib.import_module(f"{kind_entry(name).package}.kind").KIND


def layouts_of(name: str) -> dict:
    """{layout name: Layout class} of kind `name`."""
    return importlib.import_module(f"{kind_entry(name).package}.layouts").LAYOUTS


def layout_class(name: str, kind: str | None = None):
    """The Layout class called `name`, among kind `kind`'s layouts or all of them."""
    for candidate in [kind] if kind else KINDS:
        layouts = layouts_of(candidate)
        if name in layouts:
            return layouts[name]
    known = [layout for candidate in ([kind] if kind else KINDS) for layout in layouts_of(candidate)]
    raise ValueError(f"unknown layout {name!r}; accepted: {', '.join(known)}")


def make_layout(name: str, clip_samples: int, sample_rate: int, scale: float = 1.0, kind: str | None = None, **options):
    """Build the layout `name` for examples of `clip_samples` values; `options` are its extra fields."""
    cls = layout_class(name, kind)
    accepted = [f.name for f in dataclasses.fields(cls) if f.name not in ("clip_samples", "sample_rate", "scale")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"layout {name!r} has no option(s) {unknown}; accepted: {accepted or 'none'}")
    return cls(clip_samples=clip_samples, sample_rate=sample_rate, scale=scale, **options)


def layout_from_dict(d: dict):
    """Rebuild a layout from `to_dict()` output (as stored in layout.json; files without "kind" too)."""
    d = dict(d)
    if "layout" not in d:
        raise ValueError(f"layout dict has no 'layout' key: {d}")
    return make_layout(d.pop("layout"), kind=d.pop("kind", None), **d)


def read_layout_file(path: Path):
    """The layout a layout.json holds; FileNotFoundError if there is none, ValueError naming the file
    if it holds no layout."""
    text = Path(path).read_text()
    try:
        return layout_from_dict(json.loads(text))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a layout written by the tensorize stage: {err}") from None
