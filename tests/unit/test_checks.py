"""Checks judge observations: right values pass, wrong ones fail, left-out variants skip."""

from __future__ import annotations

from lab import stations
from lab.observations import Observation, Observations, load_checks, run_check

FRAMES = stations.find("1")


def frame_observations(held: bool) -> Observations:
    values = {
        "locals_alive_after_return": False,
        "locals_alive_while_exception_held": held,
        "locals_alive_after_exception_dropped": False,
    }
    return Observations([Observation("frame_lifetime", "stock", k, v) for k, v in values.items()])


def check_named(name: str, station: stations.Station = FRAMES):
    return next(c for c in load_checks(station.checks_file) if c.__name__ == f"check_{name}")


def test_right_observation_passes_and_wrong_one_fails() -> None:
    check = check_named("traceback_pins_locals")
    assert run_check(check, frame_observations(held=True)).status == "pass"
    assert run_check(check, frame_observations(held=False)).status == "fail"


def test_missing_observation_fails_with_its_name() -> None:
    result = run_check(check_named("local_read_is_faster"), Observations())
    assert result.status == "fail" and "load_fast_vs_global.global_over_local" in result.detail


def test_variant_left_out_is_a_skip_with_the_reason() -> None:
    observations = Observations(variants_run={"stock"})
    result = run_check(check_named("ft_does_not_specialize_in_313"), observations)
    assert result.status == "skip" and "ft was not run" in result.detail


def test_one_variant_key_must_be_named_when_several_measured() -> None:
    observations = Observations([Observation("e", "stock", "n", 1), Observation("e", "ft", "n", 2)])
    assert observations["e.n@ft"] == 2
    assert observations.by_variant("e.n") == {"stock": 1, "ft": 2}


def ft_threads_observations(speedup: float, busy: float, cores: int = 2) -> Observations:
    values = {
        "threads_speedup": speedup,
        "threads_busy_cores": busy,
        "threads_single_s": 0.17,
        "cores": cores,
    }
    records = [Observation("scaling", "ft", k, v) for k, v in values.items()]
    records += [Observation("scaling", "stock", "threads_single_s", 0.13)]
    return Observations(records)


def test_ft_threads_pass_on_speedup_or_on_cores_kept_busy_never_when_serialized() -> None:
    check = check_named("ft_threads_scale", stations.find("3"))
    assert run_check(check, ft_threads_observations(speedup=1.9, busy=1.9)).status == "pass"
    # A busy host stretched the clock, but both threads ran at once: still parallel.
    slowed = run_check(check, ft_threads_observations(speedup=1.3, busy=1.9))
    assert slowed.status == "pass" and "less time" in slowed.detail
    # One core busy at a time is a GIL, however the clock reads.
    assert run_check(check, ft_threads_observations(speedup=1.0, busy=1.0)).status == "fail"
    # Busy cores that buy no speedup are workers spinning on a lock, not working.
    assert run_check(check, ft_threads_observations(speedup=1.1, busy=1.9)).status == "fail"
    assert (
        run_check(check, ft_threads_observations(speedup=1.0, busy=1.0, cores=1)).status == "skip"
    )
