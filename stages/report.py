"""Build the listening page report/index.html: python -m stages.report.

Every sample's audio player beside its picture, under the results table (its headline columns;
results.csv beside it holds the rest), the metric charts and a few real test clips for comparison
(sgm.report.build). The folder opens from disk anywhere, with no server.
"""

from __future__ import annotations

from sgm.report.build import build_report
from stages.common.outputs import StageError, atomic_dir, run_stage
from stages.common.params import Params, load_params
from stages.common.paths import PLAY_DIR, PLOTS_DIR, PLOTS_INDEX_FILE, REPORT_DIR, RESULTS_FILE


def describe(params: Params) -> dict[str, str]:
    """What each grid point is, in words."""
    descriptions = {}
    for name, point in params.grid.items():
        arch = params.archs[point.arch]
        descriptions[name] = f"architecture {point.arch}: {arch.net}, {arch.blocks} blocks, channels {arch.channels}; learning rate {point.lr:g}"
    return descriptions


def main() -> None:
    params = load_params()
    missing = [str(path) for path in (PLOTS_INDEX_FILE, RESULTS_FILE) if not path.is_file()]
    if missing:
        raise StageError(f"missing input(s) {', '.join(missing)} (run the stages before report)")
    with atomic_dir(REPORT_DIR) as out:
        build_report(out, PLOTS_DIR, PLAY_DIR, RESULTS_FILE, describe(params))


if __name__ == "__main__":
    run_stage(main)
