"""Station 3 (the GIL): ft's threads count as scaling only when they do the pool's work on the
cores they keep busy; NumPy's threshold is judged on blocks that straddle it closely; the
single-thread tax says when it is not measured like the HOWTO's; the A/A tests are measured."""

from __future__ import annotations

import pytest

from lab.config import STATIONS_DIR
from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check
from tests.unit.stations.scripts import experiment

GIL = STATIONS_DIR / "03-gil"


def judge(name: str, obs: Observations):
    check = next(
        c for c in load_checks(stations.find("3").checks_file) if c.__name__ == f"check_{name}"
    )
    return run_check(check, obs)


def ft_scaling(speedup: float, busy: float, pool: float = 1.9, pool_busy: float = 1.95,
               same: float = 1.01, cores: int = 2) -> Observations:  # fmt: skip
    ft = {
        "threads_speedup": speedup,
        "threads_busy_cores": busy,
        "threads_single_s": 0.17,
        "threads_seconds_at_cores": 0.17 / speedup,
        "threads_same": same,
        "processes_speedup": pool,
        "processes_busy_cores": pool_busy,
        "cores": cores,
        "physical_cores": 2,
    }
    records = [Observation("scaling", "ft", k, v) for k, v in ft.items()]
    return Observations([*records, Observation("scaling", "stock", "threads_single_s", 0.13)])


def test_ft_threads_pass_when_they_do_the_pools_work() -> None:
    # Quiet quick runs on this 2-core VM: threads 1.76x on 1.87 cores, the pool 1.56x on 1.62.
    result = judge("ft_threads_scale", ft_scaling(1.76, 1.87, pool=1.56, pool_busy=1.62))
    assert result.status == "pass"
    assert "0.8 of the pool's speedup" in result.detail and "per busy core" in result.detail


@pytest.mark.parametrize("pool, pool_busy", [(1.9, 1.95), (2.0, 2.0), (1.6, 1.65)])
def test_busy_cores_without_the_work_done_are_not_scaling(pool: float, pool_busy: float) -> None:
    # Issue 18: 1.34x with 1.98 cores busy on 2 cores passed (want was 1.3x, or 0.7 of the
    # pool). Each busy core did 0.68 of a lone thread's work: threads contending.
    result = judge("ft_threads_scale", ft_scaling(1.34, 1.98, pool=pool, pool_busy=pool_busy))
    assert result.status == "fail", result.detail


def test_hyperthreads_busy_on_one_core_count_once() -> None:
    # 4 CPUs on 2 physical cores: 4 workers keep 4 CPUs busy, each doing half a core's work.
    smt = {"pool": 1.9, "pool_busy": 3.9, "cores": 4}
    assert judge("ft_threads_scale", ft_scaling(1.8, 3.9, **smt)).status == "pass"
    assert judge("ft_threads_scale", ft_scaling(1.34, 3.96, **smt)).status == "fail"


@pytest.mark.parametrize("pool, pool_busy", [(1.5, 1.95), (1.48, 1.83)])
def test_a_host_that_starves_even_the_pool_is_too_busy_to_judge(pool, pool_busy) -> None:
    # CI beside a browser and a second engine: threads 1.37x on 1.90 cores (0.72 a core), the
    # pool 1.48x on 1.83 (0.81): the floor would judge the host. Skipped, saying so.
    result = judge("ft_threads_scale", ft_scaling(1.37, 1.90, pool=pool, pool_busy=pool_busy))
    assert result.status == "skip" and "too busy" in result.detail


def test_a_quick_run_is_too_short_to_hold_threads_to_a_floor() -> None:
    obs = ft_scaling(1.92, 1.86)
    obs.add(Observation("scaling", "ft", "quick", True))
    result = judge("ft_threads_scale", obs)
    assert result.status == "skip" and "--quick" in result.detail
    full = ft_scaling(1.34, 1.98)
    full.add(Observation("scaling", "ft", "quick", False))
    assert judge("ft_threads_scale", full).status == "fail"


def test_ft_threads_reach_most_of_the_pools_speedup() -> None:
    # Every busy core did its share, yet the pool got 1.9x and the threads 1.45x.
    assert judge("ft_threads_scale", ft_scaling(1.45, 1.5)).status == "fail"


def test_ft_threads_cannot_pass_when_both_sides_are_the_same_code() -> None:
    # N workers that ran one at a time: the speedup is the A/A noise.
    assert judge("ft_threads_scale", ft_scaling(1.03, 1.0, same=1.03)).status == "fail"
    # A host so noisy that its A/A test is off by 25%: 1.45x is within its reach.
    noisy = judge("ft_threads_scale", ft_scaling(1.45, 1.5, pool=1.8, same=1.25))
    assert noisy.status == "skip" and "too noisy" in noisy.detail


def test_ft_threads_skip_where_the_machine_cannot_show_scaling() -> None:
    starved = judge("ft_threads_scale", ft_scaling(1.1, 1.1, pool=1.15, pool_busy=1.2))
    assert starved.status == "skip" and "no parallelism" in starved.detail


def threshold_run(under: float, over: float, *, blocks=(400, 640, 16384), same: float = 1.01,
                  per_call: float = 4.0, processes: float = 1.9) -> Observations:  # fmt: skip
    small, large, far = blocks
    values = {
        "speedups": {
            f"threads, {small}-element blocks": under,
            f"threads, {large}-element blocks": over,
            f"threads, {far}-element blocks": 1.9,
            f"processes, {large}-element blocks": processes,
        },
        "blocks": list(blocks),
        "threshold_elements": 500,
        "workers": 2,
        "cores": 2,
        "same": same,
        "per_call_us": {str(small): per_call, str(large): per_call * 1.6},
        "dispatch_us": 0.33,
    }
    return Observations([Observation("numpy_threshold", "stock", k, v) for k, v in values.items()])


THRESHOLD = "numpy_keeps_the_gil_on_small_arrays"


def test_threshold_contrast_passes_just_under_and_just_over() -> None:
    # Measured here (np.sin, 2 threads): 400 elements 0.98x, 640 elements 1.58x.
    assert judge(THRESHOLD, threshold_run(0.98, 1.58)).status == "pass"
    # Each call lets go of the GIL and takes it back, however quiet the host: 1.35x beside
    # a 2x pool is the threshold's contrast all the same.
    assert judge(THRESHOLD, threshold_run(0.98, 1.35, processes=2.0)).status == "pass"


def test_blocks_far_from_the_threshold_do_not_isolate_it() -> None:
    # Issue 18: 256 against 16,384 elements; at 256, dispatch is half of every call.
    far_apart = judge(THRESHOLD, threshold_run(1.0, 1.9, blocks=(256, 16384, 65536)))
    assert far_apart.status == "fail" and "closely" in far_apart.detail
    cheap = judge(THRESHOLD, threshold_run(1.0, 1.6, per_call=0.66))
    assert cheap.status == "fail" and "dispatch" in cheap.detail


@pytest.mark.parametrize("under, over", [(1.0, 1.0), (1.6, 1.6), (1.15, 1.25)])
def test_two_sizes_that_behave_alike_fail(under: float, over: float) -> None:
    assert judge(THRESHOLD, threshold_run(under, over)).status == "fail"


def test_threshold_contrast_within_the_noise_is_not_judged() -> None:
    noisy = judge(THRESHOLD, threshold_run(1.0, 1.4, same=1.3))
    assert noisy.status == "skip" and "too noisy" in noisy.detail


def tax(
    pgo_lto: dict[str, bool] | None = None, ft_tax: float = 1.4, host_during_ft: float = 1.0
) -> Observations:
    """A tax run: ft FT_TAX times slower than stock, on a host HOST_DURING_FT times slower
    while ft's container ran (its same-code A/A slows with it)."""
    pgo_lto = pgo_lto or {"stock": False, "ft": False}
    stock = {"float": 0.1, "nbody": 0.12, "richards": 0.06}
    records = [Observation("scaling", "stock", "threads_single_s", 0.13),
               Observation("scaling", "ft", "threads_single_s", 0.18)]  # fmt: skip
    for variant, scale, host in (("stock", 1.0, 1.0), ("ft", ft_tax, host_during_ft)):
        values = {
            "mean_s": {k: v * scale * host for k, v in stock.items()},
            "same_code_s": [0.040 * host, 0.0404 * host],
            "specialized_count": 382 if variant == "stock" else 0,
            "pgo_lto": pgo_lto[variant],
        }
        records += [Observation("single_thread_tax", variant, k, v) for k, v in values.items()]
    return Observations(records)


def test_the_tax_says_when_it_is_not_measured_like_the_howtos() -> None:
    plain = judge("single_thread_tax_on_a_standard_suite", tax({"stock": False, "ft": False}))
    assert plain.status == "pass"
    assert "may not be like for like" in plain.detail and "OPTIMIZE=no" in plain.detail
    assert "ft and stock were built here without PGO+LTO" in plain.detail
    assert "does not say how its builds were made" in plain.detail
    optimized = judge("single_thread_tax_on_a_standard_suite", tax({"stock": True, "ft": True}))
    assert "both images built with PGO+LTO here" in optimized.detail


def test_the_tax_is_judged_against_the_same_code_timed_in_both_containers() -> None:
    """Issue 26: a host 15% slower during ft's turn passed `suite > 1.1` with no tax at all."""
    tax_check = "single_thread_tax_on_a_standard_suite"
    assert judge(tax_check, tax(ft_tax=1.4)).status == "pass"
    no_tax_slow_host = judge(tax_check, tax(ft_tax=1.0, host_during_ft=1.15))
    assert no_tax_slow_host.status == "skip" and "too noisy" in no_tax_slow_host.detail
    assert judge(tax_check, tax(ft_tax=1.0)).status == "fail", "the same speed is no tax"
    assert judge(tax_check, tax(ft_tax=1.05)).status == "fail", "5% is not the HOWTO's tax"


def test_the_tax_shows_the_specialized_counts_without_judging_them() -> None:
    """They are constants of the builds (3.13t's specializer is off): not evidence."""
    records = tax().records
    same_counts = [
        Observation(o.experiment, o.variant, o.name, 382)
        if o.name == "specialized_count" else o for o in records
    ]  # fmt: skip
    judged = judge("single_thread_tax_on_a_standard_suite", Observations(same_counts))
    assert judged.status == "pass" and "stock 382, ft 382" in judged.detail


def test_pgo_lto_is_read_from_the_build_configuration(monkeypatch) -> None:
    single_thread_tax = experiment("03-gil", "single_thread_tax")
    configured = {"CONFIG_ARGS": "'--prefix=/usr/local' '--with-ensurepip=install'"}
    monkeypatch.setattr(single_thread_tax.sysconfig, "get_config_var", configured.get)
    assert single_thread_tax.pgo_lto() is False
    configured["CONFIG_ARGS"] += " '--enable-optimizations' '--with-lto'"
    assert single_thread_tax.pgo_lto() is True


def test_scaling_measures_an_a_a_test_beside_the_speedups() -> None:
    scaling = experiment("03-gil", "scaling")
    runs = {
        1: [(1.00, 1.0, 7), (1.04, 1.0, 7)],
        2: [(0.52, 1.9, 7)],
        scaling.AGAIN: [(1.03, 1.0, 7), (1.05, 1.0, 7)],
    }
    summary = scaling.summarize("threads", runs)
    assert summary["same"] == pytest.approx(1.03)
    assert summary["seconds"] == {1: 1.00, 2: 0.52}  # the A/A run is no worker count
    assert summary["results"] == [7] * 5


NUMPY_2_3_5_HEADER = (  # numpy/_core/include/numpy/ndarraytypes.h, lines 1040-1041
    "#define NPY_BEGIN_THREADS_THRESHOLDED(loop_size) do { if ((loop_size) > 500) \\\n"
    "                { _save = PyEval_SaveThread();} } while (0);\n"
)


def test_the_blocks_straddle_the_threshold_read_from_numpys_source(tmp_path, monkeypatch):
    numpy_threshold = experiment("03-gil", "numpy_threshold")
    header = tmp_path / "ndarraytypes.h"
    header.write_text(NUMPY_2_3_5_HEADER)
    monkeypatch.setattr(numpy_threshold, "HEADER", header)
    threshold = numpy_threshold.threshold()
    assert threshold == 500
    under, over = numpy_threshold.UNDER, numpy_threshold.OVER
    assert threshold / 1.5 <= under <= threshold < over <= threshold * 1.5
