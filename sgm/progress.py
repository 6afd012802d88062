"""Progress of long work: a tqdm bar on a terminal, one plain line per interval in a log.

`progress_bar(...)` takes tqdm's common arguments and returns an object with tqdm's `update`,
`set_postfix`, `close` and iteration. On a terminal it is tqdm itself. When the output is not a
terminal (CI, `dvc repro > log`, a batch job) it prints the same text as tqdm, one line at a time:
nothing during the first `interval` seconds, then a line every `interval` seconds and a last line
when done. Work shorter than `interval` prints nothing, so logs and CI output stay short.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

INTERVAL = 30.0


class LineProgress:
    """tqdm's meter as one line every `interval` seconds (see module docstring)."""

    def __init__(self, iterable=None, total=None, desc="", unit="it", initial=0, file=None, interval=INTERVAL, disable=False, **_):
        self.iterable = iterable
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.desc, self.unit, self.n, self.initial = desc, unit, initial, initial
        self.file, self.interval, self.disable = file or sys.stderr, interval, disable
        self.postfix = ""
        self.start = self.last_line = time.monotonic()
        self.printed = False

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in items.items())

    def set_postfix_str(self, s="", refresh=True):
        self.postfix = s

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if not self.disable and now - self.last_line >= self.interval:
            self._print(now)

    def close(self):
        now = time.monotonic()
        if not self.disable and (self.printed or now - self.start >= self.interval):
            self._print(now)
        self.disable = True

    def _print(self, now: float) -> None:
        elapsed = now - self.start
        done = self.n - self.initial
        rate = done / elapsed if elapsed > 0 and done else None
        line = tqdm.format_meter(self.n, self.total, elapsed, prefix=self.desc, unit=self.unit, rate=rate, postfix=self.postfix or None, initial=self.initial)
        print(line, file=self.file, flush=True)
        self.last_line, self.printed = now, True


def progress_bar(iterable=None, *, total=None, desc="", unit="it", initial=0, disable=False, leave=None, file=None, interval=INTERVAL):
    """A progress bar over `iterable` or for `total` units: tqdm on a terminal, else a LineProgress.

    A bar opened inside another one disappears when done (tqdm's leave=None).
    """
    file = file or sys.stderr
    if hasattr(file, "isatty") and file.isatty():
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, leave=leave, file=file, dynamic_ncols=True)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=file, interval=interval)
