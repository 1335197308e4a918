"""A station's figures: its figures.py draws them from the run's observations, on the host.

A station's `figures.py` holds `figure_*(obs)` functions, as checks.py holds `check_*`:
each takes the run's Observations and returns a `matplotlib.figure.Figure` (made directly,
not through pyplot: no GUI backend, nothing global), or None where the run
measured nothing to draw (`obs[...]` raising KeyError or NotRun says which observation is
missing). The docstring's first line is the figure's caption. The figure is rendered here
to SVG, put inline in the page. Matplotlib is imported only for a station that has figures.
The same file's `class_figure_*(runs)` functions draw the class page's figures, across the
class's runs of the station (lab/classroom/class_figures.py): loaded and drawn here too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from lab import untrusted
from lab.errors import LabError
from lab.run.observations import Observation, Observations, load_functions
from lab.run.page import Figure
from lab.run.report_model import Report

if TYPE_CHECKING:  # Matplotlib is imported only for a station that has figures
    import matplotlib.figure

FIGURES_FILE = "figures.py"
SVG_START = "<svg"
MAX_WHY = 300  # characters of why a figure was not drawn
NOTHING = "nothing to show in this run"  # what a figure that returns None says


def load(path: Path, prefix: str = "figure_") -> list[Callable]:
    """The functions PATH defines whose names start with PREFIX (a run's figure_*, the class
    page's class_figure_*), in the order they are written (none if no file)."""
    if not path.is_file():
        return []
    # A broken figures.py is one line: it costs its figures, not the run.
    return load_functions(path, prefix, f"lab_figures_{path.parent.name}")


def observations_of(report: Report, emulated: dict[str, str] | None = None) -> Observations:
    """The run's observations, as the checks saw them; EMULATED, where given, in place of
    what the report says ran under emulation (the class page's, checked against the
    hand-in's machine facts)."""
    records = [Observation.of(o) for o in report.observations]
    return Observations(records, emulated=report.emulated if emulated is None else emulated)


def draw(station_dir: Path, report: Report) -> list[Figure]:
    """Every figure the station's figures.py draws from REPORT's observations."""
    try:
        functions = load(station_dir / FIGURES_FILE)
    except LabError as error:
        return [Figure("figures", f"not drawn: {error}")]
    if not functions:
        return []
    obs = observations_of(report)
    return [draw_one(function, obs) for function in functions]


def draw_one(function: Callable, obs: Any, nothing: str = NOTHING) -> Figure:
    """FUNCTION's figure of OBS (a run's Observations; for a class figure, the class's runs),
    drawn and rendered; any failure in either is a one-line caption, and None is NOTHING.
    A caption that only the numbers can say is the figure's label (`set_label`)."""
    caption = (function.__doc__ or "").strip().splitlines()
    title = caption[0] if caption else function.__name__.partition("figure_")[2]
    with quiet():
        try:
            figure = function(obs)
        except KeyError as missing:  # NotRun included: this run did not measure it
            return Figure(title, f"not drawn: {missing.args[0] if missing.args else missing}")
        except Exception as error:  # the numbers were there but would not draw
            return not_drawn(title, error)
        if figure is None:
            return Figure(title, f"not drawn: {nothing}")
        try:  # Matplotlib lays out and parses text (mathtext) only when saving
            svg = as_svg(figure)
            said = [" ".join(caption[1:]).strip(), str(figure.get_label())]
        except Exception as error:
            return not_drawn(title, error)
    return Figure(title, "; ".join(s for s in said if s), svg=svg)


def not_drawn(title: str, error: Exception) -> Figure:
    # mathtext's errors run to several lines (the expression, a caret): one line here.
    why = untrusted.text(" ".join(f"{type(error).__name__}: {error}".split()), MAX_WHY)
    return Figure(title, f"not drawn: {why}")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Matplotlib's warnings and log silenced: they run to several lines on the terminal,
    and a figure that cannot be drawn says so in its caption instead."""
    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)  # its child loggers inherit it (they set none)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def as_svg(figure: matplotlib.figure.Figure) -> Markup:
    """FIGURE as inline SVG: text drawn as paths (no font to fetch), escaped by Matplotlib."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    return Markup(svg[svg.index(SVG_START) :])  # the XML prolog and DOCTYPE do not go inline
