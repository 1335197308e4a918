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


def check_named(name: str):
    return next(c for c in load_checks(FRAMES.checks_file) if c.__name__ == f"check_{name}")


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
