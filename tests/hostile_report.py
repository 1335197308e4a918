"""A run's report as a hostile container could make it: markup in every string a container
sets. The station page's unit tests (tests/unit/run/test_page*.py) and its browser tests
(tests/pages/test_station_page.py) render it."""

from __future__ import annotations

MARKUP = '<script>alert("x")</script><img src="http://example.invalid/x.png">'


def hostile_report(**changes) -> dict:
    """A run's report with a container's markup in every string a container could set."""
    excerpt = [f"line {n}" for n in range(680, 710)]
    excerpt[5] = "_PyEval_EvalFrameDefault(PyThreadState *tstate, /* <b>not bold</b> */"
    report = {
        "station": "1",
        "title": "From python foo.py to a frame on the stack",
        "started": "2026-12-02T00:00:00+00:00",
        "seconds": 12.5,
        "images": {"stock": "d7118bf3e1d3"},
        "reading": [
            {
                "tree": "cpython",
                "path": "Python/ceval.c",
                "symbol": "_PyEval_EvalFrameDefault",
                "why": f"the eval loop {MARKUP}",
                "status": "found",
                "at": "/usr/src/cpython/Python/ceval.c:685",
                "excerpt_start": "680",
                "excerpt": excerpt,
            },
            {"title": "PEP 659", "url": "https://peps.python.org/pep-0659/", "status": "document"},
            {"title": "a trap", "url": "javascript:alert(1)", "status": "document"},
        ],
        "experiments": [
            {
                "experiment": "seed_dis",
                "variant": "stock",
                "exit_code": 0,
                "seconds": 0.1,
                "note": MARKUP,
            },
        ],
        "observations": [
            {
                "experiment": "load_fast_vs_global",
                "variant": "stock",
                "name": "global_over_local",
                "value": 1.4,
                "unit": "x",
            },
            {
                "experiment": "load_fast_vs_global",
                "variant": "stock",
                "name": "local_over_itself",
                "value": 1.01,
                "unit": "x",
            },
        ],
        "checks": [
            {
                "name": "seed_snippet_ran",
                "description": "The seed's snippet ran",
                "status": "pass",
                "detail": MARKUP,
            },
        ],
        "explain": [
            {
                "question": "Why is LOAD_FAST faster?",
                "evidence": [{"key": "x.y", "values": {}, "text": MARKUP}],
            },
        ],
        "files": ["plot.svg"],
        "passed": True,
        "emulated": {},
    }
    return {**report, **changes}
