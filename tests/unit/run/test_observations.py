"""lab/run/observations.py: a station's observations as its checks read them (a missing one,
a variant left out, a key measured on several variants), and the A/A test's noise rule."""

from __future__ import annotations

import pytest

from lab.run.observations import Observation, Observations
from tests.unit.stations.judging import judge


def test_missing_observation_fails_with_its_name() -> None:
    result = judge("local_read_is_faster", "1", Observations())
    assert result.status == "fail" and "load_fast_vs_global.global_over_local" in result.detail


def test_variant_left_out_is_a_skip_with_the_reason() -> None:
    observations = Observations(variants_run={"stock"})
    result = judge("ft_does_not_specialize_in_313", "1", observations)
    assert result.status == "skip" and "ft was not run" in result.detail


def test_one_variant_key_must_be_named_when_several_measured() -> None:
    observations = Observations([Observation("e", "stock", "n", 1), Observation("e", "ft", "n", 2)])
    assert observations["e.n@ft"] == 2
    assert observations.by_variant("e.n") == {"stock": 1, "ft": 2}


@pytest.mark.parametrize(
    ("ratio", "same", "verdict"),
    [
        (1.30, 1.01, True),  # clears 2% and twice the noise
        (1.01, 1.00, False),  # 1% is under the floor, however quiet the host
        (1.05, 0.97, False),  # 3% noise: want > 1.06x
        (1.00, 1.00, False),  # the same code on both sides never passes
        (1.08, 1.10, None),  # 10% noise swallows 8%: skipped, saying so
        (1.30, 1.10, True),  # ... but not 30%
    ],
)
def test_beyond_noise(ratio, same, verdict) -> None:
    passed, detail = Observations().beyond_noise(ratio, same, "B / A")
    assert passed is verdict, detail
    assert detail.startswith("B / A; A/A")
