"""A station's figures: one that will not render, or that Matplotlib warns about, costs
that figure (a one-line caption), never the run, and prints nothing on the terminal."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from lab.config import STATIONS_DIR
from lab.errors import LabError
from lab.run import figures, report_model

BAD_TEX = "$\\foo$"  # mathtext raises on an unknown command, when the figure is saved


def report(observations: list[dict] = ()) -> report_model.Report:
    return report_model.of({"station": "3", "observations": list(observations)})


def draws(figure_body: str) -> str:
    return (
        "from matplotlib.figure import Figure\n"
        "def figure_it(obs):\n"
        '    """It"""\n'
        "    figure = Figure()\n"
        "    axes = figure.subplots()\n"
        f"{figure_body}"
        "    return figure\n"
    )


def test_a_figure_that_raises_when_saved_is_not_drawn(tmp_path: Path) -> None:
    body = f"    axes.bar([{BAD_TEX!r}], [1.0])\n"
    (tmp_path / "figures.py").write_text(draws(body))
    (only,) = figures.draw(tmp_path, report())
    assert only.svg is None and only.caption.startswith("not drawn: ")
    assert "\n" not in only.caption


def test_a_file_python_has_no_loader_for_is_one_line(tmp_path: Path) -> None:
    """Not a .py file: one LabError line (draw's caption), not a crash on a missing spec."""
    path = tmp_path / "figures.txt"
    path.write_text("def figure_it(obs):\n    return None\n")
    with pytest.raises(LabError, match="not a Python module"):
        figures.load(path)


def test_station_3s_figure_with_a_tex_key_is_not_drawn(capfd) -> None:
    observations = [
        {"experiment": "single_thread_tax", "variant": variant, "name": "mean_s",
         "value": {BAD_TEX: 1.0}, "unit": "s"}
        for variant in ("stock", "ft")
    ]  # fmt: skip
    drawn = figures.draw(STATIONS_DIR / "03-gil", report(observations))
    (tax,) = [f for f in drawn if "single-thread cost" in f.title]
    assert tax.svg is None and tax.caption.startswith("not drawn: ")
    out, err = capfd.readouterr()
    assert out == "" and "Traceback" not in err


def test_matplotlibs_warnings_are_not_printed(tmp_path: Path, capfd) -> None:
    body = "    axes.plot([0, 1, 2], [1.0, float('nan'), float('inf')])\n"
    body += "    axes.set_xlim(1, 1)\n"  # Matplotlib warns, and draws
    (tmp_path / "figures.py").write_text(draws(body))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (only,) = figures.draw(tmp_path, report())
    assert [str(w.message) for w in caught] == []
    _, err = capfd.readouterr()
    assert err == ""
    assert only.svg is not None


def test_matplotlibs_log_is_quiet_while_drawing(tmp_path: Path, capfd) -> None:
    body = "    __import__('logging').getLogger('matplotlib.text').warning('a\\nb\\nc')\n"
    (tmp_path / "figures.py").write_text(draws(body))
    logging.getLogger().addHandler(handler := logging.StreamHandler())
    try:
        (only,) = figures.draw(tmp_path, report())
    finally:
        logging.getLogger().removeHandler(handler)
    _, err = capfd.readouterr()
    assert err == "" and only.svg is not None
