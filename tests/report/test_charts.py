"""Charts of a results table: a metric against a hyperparameter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sgm.kinds.figures import save_png
from sgm.report import charts as plots


def rgb(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int32)


@pytest.fixture
def results(tmp_path) -> pd.DataFrame:
    """A small results.csv as the results stage writes it, read back."""
    table = pd.DataFrame(
        {
            "point": ["a", "b", "c", "a", "b", "c", "a"],
            "sampler": ["em", "em", "em", "pc", "pc", "pc", None],
            "lr": [1e-5, 1e-5, 1e-3, 1e-5, 1e-5, 1e-3, 1e-5],
            "channels": ["32-64", "128-256", "32-64", "32-64", "128-256", "32-64", "32-64"],
            "frechet_distance": [3.0, 5.0, 2.0, 7.0, 9.0, 1.0, 4.0],
        }
    )
    table.to_csv(tmp_path / "results.csv", index=False)
    return pd.read_csv(tmp_path / "results.csv")


def test_hyperparameter_chart_draws_each_samplers_mean(results, tmp_path):
    figure = plots.hyperparameter_chart(results, "lr", "frechet_distance")
    ax = figure.axes[0]
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
    assert lines == {"em": ([1e-5, 1e-3], [4.0, 2.0]), "pc": ([1e-5, 1e-3], [8.0, 1.0]), "(any sampler)": ([1e-5], [4.0])}
    assert ax.get_xscale() == "log"
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(results)
    path = save_png(figure, tmp_path / "chart.png")
    assert rgb(path).shape == (plots.CHART_SIZE[1], plots.CHART_SIZE[0], 3)


def test_hyperparameter_chart_places_text_values_in_order_of_appearance(results):
    ax = plots.hyperparameter_chart(results, "channels", "frechet_distance").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["32-64", "128-256"]
    em = next(line for line in ax.lines if line.get_label() == "em")
    assert list(em.get_ydata()) == [2.5, 5.0]
    assert ax.get_xscale() == "linear"


def test_hyperparameter_chart_names_missing_columns(results):
    with pytest.raises(ValueError, match=r"no column\(s\) \['bits_per_dim'\]"):
        plots.hyperparameter_chart(results, "lr", "bits_per_dim")
    with pytest.raises(ValueError, match="no rows"):
        plots.hyperparameter_chart(results.assign(frechet_distance=np.nan), "lr", "frechet_distance")
