"""A static HTML page to listen to samples beside their pictures; it opens from disk, no server.

The page is described as nested `Section`s of figures and clips whose files lie beside the page;
`render_page` turns that into one self-contained HTML document. Every text and path is escaped,
so names taken from params or files (a grid point may be called `<b>x`) show as written.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
nav ul { columns: 3; }
table { border-collapse: collapse; font-size: 0.85em; }
.results { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
figure { margin: 0; }
.figures, .clips { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.5em 0; }
.figures img { max-width: 100%; display: block; }
.clip { border: 1px solid #ddd; padding: 6px; width: 400px; }
.clip img, .clip audio { width: 400px; display: block; }
figcaption { font-size: 0.85em; }
"""


@dataclass(frozen=True)
class Figure:
    """An image shown full width, with a caption; `src` is relative to the page."""

    src: str
    caption: str = ""


@dataclass(frozen=True)
class Clip:
    """A clip: an audio player over its WAV and its picture; paths are relative to the page."""

    caption: str
    audio: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class Download:
    """A file offered for download (an instrument, a MIDI file); `href` is relative to the page."""

    href: str
    text: str


@dataclass(frozen=True)
class Section:
    """A titled part of the page: text, downloads, figures, clips, then subsections one heading level down."""

    title: str
    text: str = ""
    figures: tuple[Figure, ...] = ()
    clips: tuple[Clip, ...] = ()
    downloads: tuple[Download, ...] = ()
    sections: tuple[Section, ...] = ()


def render_page(title: str, sections: Sequence[Section], table: pd.DataFrame | None = None, full_table: str | None = None) -> str:
    """The whole HTML document: title, contents, the results table (if any, with a link to `full_table`), then the sections."""
    anchors = [f"s{i}" for i in range(len(sections))]
    contents = "".join(f'<li><a href="#{a}">{_text(s.title)}</a></li>' for a, s in zip(anchors, sections))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        f"<nav><ul>{contents}</ul></nav>",
    ]
    if table is not None:
        rows = table.to_html(index=False, escape=True, na_rep="", float_format="{:.4g}".format)
        parts += ["<h2>Results</h2>", f'<div class="results">{rows}</div>']
        if full_table is not None:
            parts.append(f'<p>Every number of every checkpoint and sampler: <a href="{_url(full_table)}">{_text(full_table)}</a></p>')
    parts += [_section(s, a, level=2) for a, s in zip(anchors, sections)]
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(section: Section, anchor: str, level: int) -> str:
    heading = min(level, 6)
    parts = [f'<section id="{anchor}"><h{heading}>{_text(section.title)}</h{heading}>']
    if section.text:
        parts.append(f"<p>{_text(section.text)}</p>")
    if section.downloads:
        links = " ".join(f'<a class="download" href="{_url(d.href)}" download>{_text(d.text)}</a>' for d in section.downloads)
        parts.append(f"<p>{links}</p>")
    if section.figures:
        parts.append('<div class="figures">' + "".join(_figure(f) for f in section.figures) + "</div>")
    if section.clips:
        parts.append('<div class="clips">' + "".join(_clip(c) for c in section.clips) + "</div>")
    parts += [_section(s, f"{anchor}-{i}", level + 1) for i, s in enumerate(section.sections)]
    parts.append("</section>")
    return "\n".join(parts)


def _figure(figure: Figure) -> str:
    caption = f"<figcaption>{_text(figure.caption)}</figcaption>" if figure.caption else ""
    return f'<figure><img src="{_url(figure.src)}" alt="{_text(figure.caption)}">{caption}</figure>'


def _clip(clip: Clip) -> str:
    parts = [f'<figure class="clip"><figcaption>{_text(clip.caption)}</figcaption>']
    if clip.audio is not None:
        url = _url(clip.audio)
        parts.append(f'<audio controls preload="metadata" src="{url}"><a href="{url}">WAV</a></audio>')
    if clip.image is not None:
        parts.append(f'<img src="{_url(clip.image)}" alt="{_text(clip.caption)}">')
    parts.append("</figure>")
    return "".join(parts)


def _text(value: str) -> str:
    return html.escape(str(value), quote=True)


def _url(path: str) -> str:
    """A relative path as an escaped URL; anything that could leave the page's folder is refused."""
    posix = PurePosixPath(path)
    if posix.is_absolute() or ".." in posix.parts or ":" in path or "\\" in path or not path:
        raise ValueError(f"page files must be relative paths inside the page's folder, got {path!r}")
    return _text(quote(path))
