"""Station 1 (frames): its checks fed what the builds measured and what must fail them, and
what its scripts rely on to tell the builds apart."""

from __future__ import annotations

from lab.run import stations
from lab.run.observations import Observation, Observations
from tests.unit.stations.judging import judge, merged, observations, status

FRAMES = stations.find("1")
PINS = "traceback_pins_locals"


# -- a frame's lifetime: a traceback pins the locals of the call that raised -----------------
def lifetime(**changed) -> Observations:
    values = {
        "locals_alive_after_return": False,
        "locals_alive_while_exception_held": True,
        "locals_alive_after_exception_dropped": False,
        "locals_reached_through_traceback": {"frame of": "raises", "locals": ["payload"]},
        **changed,
    }
    return observations("frame_lifetime", values)


def test_traceback_must_reach_the_raising_calls_locals() -> None:
    assert status(PINS, "1", lifetime()) == "pass"
    # What frame_lifetime.py used to report as evidence (always "frame") proves nothing.
    nowhere = {"frame of": "<module>", "locals": []}
    assert status(PINS, "1", lifetime(locals_reached_through_traceback=nowhere)) == "fail"
    other_locals = {"frame of": "raises", "locals": ["other"]}
    assert status(PINS, "1", lifetime(locals_reached_through_traceback=other_locals)) == "fail"


def test_locals_must_die_once_the_exception_is_dropped() -> None:
    assert status(PINS, "1", lifetime(locals_alive_after_exception_dropped=True)) == "fail"
    assert status(PINS, "1", lifetime(locals_alive_while_exception_held=False)) == "fail"


def test_the_locals_must_be_alive_while_the_exception_is_held() -> None:
    assert status(PINS, "1", lifetime()) == "pass"
    assert status(PINS, "1", lifetime(locals_alive_while_exception_held=False)) == "fail"


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


# -- the eval loop: specialization, a global read against a local one, where frames live --
def test_specialization_needs_the_int_arithmetic_not_resume_check() -> None:
    resume_only = {"specialized": ["RESUME -> RESUME_CHECK"]}
    assert status("stock_specializes", "1", observations("specialization", resume_only)) == "fail"
    int_ops = ["BINARY_OP -> BINARY_OP_MULTIPLY_INT", "BINARY_OP -> BINARY_OP_ADD_INT"]
    full = {"specialized": [*resume_only["specialized"], *int_ops]}
    assert status("stock_specializes", "1", observations("specialization", full)) == "pass"


def reads(ratio: float, itself: float) -> Observations:
    values = {"global_over_local": ratio, "local_over_itself": itself}
    return observations("load_fast_vs_global", values)


def test_local_read_must_beat_the_noise_measured_beside_it() -> None:
    assert status("local_read_is_faster", "1", reads(1.15, 1.01)) == "pass"
    assert status("local_read_is_faster", "1", reads(1.01, 1.0)) == "fail"  # within 2%
    assert status("local_read_is_faster", "1", reads(1.03, 0.98)) == "fail"  # within 2 x A/A
    assert status("local_read_is_faster", "1", reads(1.10, 1.2)) == "skip"  # too noisy to tell


def test_ft_global_read_costs_more_without_specialization() -> None:
    def both(stock: float, ft: float, same: tuple = (1.01, 1.01)) -> Observations:
        instruction = Observation(
            "load_fast_vs_global", "stock", "global_instruction", ["LOAD_GLOBAL_MODULE"]
        )
        stock_ = {"global_over_local": stock, "local_over_itself": same[0]}
        ft_ = {"global_over_local": ft, "local_over_itself": same[1]}
        return merged(
            observations("load_fast_vs_global", stock_),
            observations("load_fast_vs_global", ft_, "ft"),
            Observations([instruction]),
        )

    check = "specialization_narrows_the_global_read"
    assert status(check, "1", both(1.1, 3.0)) == "pass"
    assert status(check, "1", both(1.1, 1.2)) == "fail"
    # Each build's A/A, added: 1.64x over stock clears 1.5x, not 2 x 35% of noise.
    assert status(check, "1", both(1.1, 1.8)) == "pass"
    assert status(check, "1", both(1.1, 1.8, same=(1.15, 0.8))) == "skip"
    detail = judge(check, "1", both(1.1, 3.0)).detail
    assert "_Py_dict_lookup_threadsafe" in detail, "what else differs is said"


def frame_homes(**changed) -> Observations:
    values = {
        "call_frame_on_data_stack": True,
        "frame_copied_into_frame_object": True,
        "generator_frame_inside_generator": True,
        "locals_after_return": {"secret": "kept"},
        "heap_bytes_per_call": {"plain call": 0, "call asking sys._getframe()": 184},
        **changed,
    }
    return observations("frame_homes", values)


def test_frame_homes_fail_on_a_frame_in_the_wrong_place() -> None:
    assert status("frame_homes", "1", frame_homes()) == "pass"
    assert status("frame_homes", "1", frame_homes(generator_frame_inside_generator=False)) == "fail"
    assert status("frame_homes", "1", frame_homes(frame_copied_into_frame_object=False)) == "fail"
    assert status("frame_homes", "1", frame_homes(locals_after_return={})) == "fail"
    eager = {"plain call": 184, "call asking sys._getframe()": 184}
    assert status("frame_object_made_lazily", "1", frame_homes()) == "pass"
    assert status("frame_object_made_lazily", "1", frame_homes(heap_bytes_per_call=eager)) == "fail"
