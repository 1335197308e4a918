"""Station 1's frame-lifetime check, fed the observations that must fail it."""

from __future__ import annotations

from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check

FRAMES = stations.find("1")


def lifetime(**changed) -> Observations:
    values = {
        "locals_alive_after_return": False,
        "locals_alive_while_exception_held": True,
        "locals_alive_after_exception_dropped": False,
        "locals_reached_through_traceback": {"frame of": "raises", "locals": ["payload"]},
        **changed,
    }
    return Observations([Observation("frame_lifetime", "stock", k, v) for k, v in values.items()])


def status(obs: Observations) -> str:
    checks = load_checks(FRAMES.checks_file)
    check = next(c for c in checks if c.__name__ == "check_traceback_pins_locals")
    return run_check(check, obs).status


def test_traceback_must_reach_the_raising_calls_locals() -> None:
    assert status(lifetime()) == "pass"
    # What frame_lifetime.py used to report as evidence (always "frame") proves nothing.
    nowhere = {"frame of": "<module>", "locals": []}
    assert status(lifetime(locals_reached_through_traceback=nowhere)) == "fail"
    other_locals = {"frame of": "raises", "locals": ["other"]}
    assert status(lifetime(locals_reached_through_traceback=other_locals)) == "fail"


def test_locals_must_die_once_the_exception_is_dropped() -> None:
    assert status(lifetime(locals_alive_after_exception_dropped=True)) == "fail"
    assert status(lifetime(locals_alive_while_exception_held=False)) == "fail"


def test_frame_object_materialized_is_no_longer_evidence() -> None:
    evidence = [name for question in FRAMES.questions for name in question.evidence]
    assert "frame_lifetime.frame_object_materialized" not in evidence
    assert "frame_lifetime.locals_reached_through_traceback" in evidence


def test_the_build_is_told_by_how_it_was_compiled_not_by_the_gil_now() -> None:
    # PYTHON_GIL=1 turns the GIL on in a free-threaded build: _is_gil_enabled() says True,
    # yet the header and the missing specializer are those of Py_GIL_DISABLED.
    for script in ("01-frames/specialization.py", "02-memory/object_header.py"):
        source = (FRAMES.folder.parent / script).read_text()
        code = [line for line in source.splitlines() if not line.lstrip().startswith("#")]
        assert 'get_config_var("Py_GIL_DISABLED")' in source, script
        assert not [line for line in code if "_is_gil_enabled" in line], script
