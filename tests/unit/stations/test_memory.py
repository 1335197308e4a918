"""Station 2's checks, fed what each build measured and what a wrong build would measure."""

from __future__ import annotations

from lab.run.observations import Observation, Observations
from tests.unit.stations.judging import judge, observations, status


def sizes(list_bytes: int, float_bytes: int, in_front: int) -> dict:
    return {
        "list []": {"bytes": list_bytes, "in_front": in_front, "gc_type": True},
        "float 1.5": {"bytes": float_bytes, "in_front": 0, "gc_type": False},
    }


# What object_header.py measured on lab-cpython:stock and lab-cpython:ft (3.13.5): ft is
# stock but for its header, its PyGC_Head and its two reference counts.
STOCK = {
    "py_gil_disabled": False,
    "header_bytes": 16,
    "ob_type_offset": 8,
    "refcount_read_back": {"from the fields": 2, "sys.getrefcount": 2},
    "gc_head_bytes": 16,
    "sizes": sizes(56, 24, in_front=16),
    "local_count_moves": 3,
    "local_count_after_other_thread": 3,  # stock has one count: every thread moves it
}
FT = {
    **STOCK,
    "py_gil_disabled": True,
    "header_bytes": 32, "ob_type_offset": 24, "gc_head_bytes": 0,
    "sizes": sizes(56, 40, in_front=0),
    "owner_tids": {
        "main, first": 0x7F10,
        "main, second": 0x7F10,
        "main, first, after the threads": 0x7F10,
        "thread 1, first": 0x7E20,
        "thread 1, second": 0x7E20,
        "thread 2, first": 0x7D30,
        "thread 2, second": 0x7D30,
    },
    "shared_count_moves": 3,
    "local_count_after_other_thread": 0,
}  # fmt: skip
HEADER_CHECKS = ("free_threaded_header_is_bigger", "only_objects_outside_the_gc_pay_for_it")


def header(stock: dict = STOCK, ft: dict = FT, **ft_changed) -> Observations:
    ft = {**ft, **ft_changed}
    records = [Observation("object_header", "stock", k, v) for k, v in stock.items()]
    records += [Observation("object_header", "ft", k, v) for k, v in ft.items()]
    return Observations(records)


def test_both_builds_as_measured_pass() -> None:
    for check in (*HEADER_CHECKS, "biased_counts"):
        assert status(check, "2", header()) == "pass", check


def test_stock_measured_in_place_of_ft_fails_every_header_check() -> None:
    # The ft variant running a stock interpreter: each check must see it.
    for check in (*HEADER_CHECKS, "biased_counts"):
        assert status(check, "2", header(ft=STOCK)) == "fail", check


def test_header_must_be_the_one_object_h_gives_read_back_from_memory() -> None:
    check = "free_threaded_header_is_bigger"
    assert status(check, "2", header(py_gil_disabled=False)) == "fail"
    assert status(check, "2", header(header_bytes=24)) == "fail"
    assert status(check, "2", header(ob_type_offset=8)) == "fail"  # ob_type not where object.h says
    off = {"from the fields": 1, "sys.getrefcount": 2}  # read at the wrong offset
    assert status(check, "2", header(refcount_read_back=off)) == "fail"


def test_only_objects_outside_the_gc_pay_the_bigger_header() -> None:
    check = "only_objects_outside_the_gc_pay_for_it"
    assert status(check, "2", header(sizes=sizes(72, 40, in_front=16))) == "fail"  # list grew
    assert status(check, "2", header(sizes=sizes(56, 24, in_front=0))) == "fail"  # float did not
    assert status(check, "2", header(gc_head_bytes=16)) == "fail"  # PyGC_Head kept on ft


def test_biased_counts_compare_owners_across_threads_not_get_ident() -> None:
    same_everywhere = dict.fromkeys(FT["owner_tids"], 1)
    assert status("biased_counts", "2", header(owner_tids=same_everywhere)) == "fail"
    moved = {**FT["owner_tids"], "main, first, after the threads": 2}
    assert status("biased_counts", "2", header(owner_tids=moved)) == "fail"
    assert status("biased_counts", "2", header(local_count_after_other_thread=3)) == "fail"


def traced(traced_bytes: int, list_object_traced: bool = False) -> Observations:
    values = {
        "list_bytes": 85_176,
        "list_object_bytes": 56,
        "list_object_traced": list_object_traced,
        "objects_bytes": 160_000,
        "traced_bytes": traced_bytes,
    }
    return observations("seed_tracemalloc", values)


def test_tracemalloc_must_see_at_least_what_getsizeof_counts() -> None:
    check = "tracemalloc_accounts_for_the_snippet"
    # As measured: the list object came from the free list, its 56 B untraced.
    assert status(check, "2", traced(245_120)) == "pass"
    assert status(check, "2", traced(245_000)) == "fail"  # below what getsizeof counts
    assert status(check, "2", traced(245_120, list_object_traced=True)) == "fail"
    assert status(check, "2", traced(245_176, list_object_traced=True)) == "pass"
    assert status(check, "2", traced(300_000)) == "fail"  # far more than the snippet made


def slots(slots_bytes: float, dict_bytes: float = 96.0) -> Observations:
    values = {
        "slots_bytes": slots_bytes,
        "dict_bytes": dict_bytes,
        "dict_materialized_bytes": 160.0,
        "saving_percent": 100 * (1 - slots_bytes / dict_bytes),
        "saving_vs_materialized_percent": 100 * (1 - slots_bytes / 160.0),
    }
    return observations("slots_saving", values)


def test_slots_detail_gives_the_figures_not_a_verdict_the_check_does_not_make() -> None:
    check = "slots_are_smaller"
    result = judge(check, "2", slots(56.0))
    assert result.status == "pass" and "holds" not in result.detail
    assert "56 B" in result.detail and "96 B" in result.detail and "160 B" in result.detail
    assert status(check, "2", slots(100.0)) == "fail"


def test_slots_judged_against_the_claims_size_and_its_own_bytes() -> None:
    """A 1% saving once passed `saving > 0`, and so did slots larger than dict ones with a
    percentage edited in."""
    check = "slots_are_smaller"
    assert status(check, "2", slots(95.0)) == "fail", "1% is not the claim's ~40%"
    assert status(check, "2", slots(64.0)) == "pass", "33%: about the claim"
    lying = slots(120.0)
    lying.records = [
        Observation(
            o.experiment, o.variant, o.name, 42.0 if o.name == "saving_percent" else o.value
        )
        for o in lying.records
    ]
    assert status(check, "2", lying) == "fail", "42% claimed, the bytes say -25%"
    assert status(check, "2", slots(0.0)) == "fail", "an instance of 0 bytes"


# -- pymalloc: arenas given back, blocks in the size class the snippet's objects need -------
def malloc_observations(after_arenas: int, grew: dict) -> Observations:
    def stats(arenas: int, in_blocks: int) -> dict:
        return {"arenas_allocated_current": arenas, "bytes_in_allocated_blocks": in_blocks}

    values = {
        "before": stats(4, 3_000_000),
        "during": stats(23, 22_000_000),
        "after": stats(after_arenas, 3_600_000),
        "expected_classes": {"2-tuple (56 B)": 64, "int (28 B)": 32},
        "classes_that_grew": grew,
    }
    return observations("pymalloc_stats", values)


def test_memory_given_back_means_arenas_freed() -> None:
    grew = {"32": 199_772, "64": 199_970}
    assert status("arenas_grow_and_shrink", "2", malloc_observations(6, grew)) == "pass"
    assert status("arenas_grow_and_shrink", "2", malloc_observations(23, grew)) == "fail"


def test_size_class_is_the_one_that_grew() -> None:
    check = "blocks_land_in_the_computed_size_class"
    assert status(check, "2", malloc_observations(6, {"32": 199_772, "64": 199_970})) == "pass"
    assert status(check, "2", malloc_observations(6, {"32": 399_000})) == "fail"
