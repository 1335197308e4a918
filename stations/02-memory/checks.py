"""Station 2's checks: each returns (passed, what was measured)."""


def check_del_frees_at_once(obs):
    """del frees an object the moment its count reaches zero (no collector involved)"""
    freed = obs["refcount_and_cycles.freed_by_del"]
    return freed, f"freed by del with gc disabled: {freed}"


def check_cycle_needs_the_collector(obs):
    """A reference cycle outlives del, and gc.collect() frees it"""
    alive = obs["refcount_and_cycles.cycle_alive_after_del"]
    collected = obs["refcount_and_cycles.collected"]
    freed = obs["refcount_and_cycles.cycle_freed_by_collect"]
    return alive and freed and collected >= 2, f"alive after del: {alive}, collected {collected}"


def check_tracemalloc_accounts_for_the_snippet(obs):
    """tracemalloc sees at least the bytes getsizeof counts that were allocated after it started"""
    list_bytes = obs["seed_tracemalloc.list_bytes"]
    objects = obs["seed_tracemalloc.objects_bytes"]
    traced = obs["seed_tracemalloc.traced_bytes"]
    # Both count the PyGC_Head; only a list object reused from the free list, allocated
    # before tracemalloc started, is in getsizeof's figure and not in tracemalloc's.
    reused = not obs["seed_tracemalloc.list_object_traced"]
    expected = objects + list_bytes - (obs["seed_tracemalloc.list_object_bytes"] if reused else 0)
    detail = (
        f"traced {traced:,} B; getsizeof: objects {objects:,} B + list {list_bytes:,} B"
        f"{' less its reused list object' if reused else ''} = {expected:,} B"
    )
    # Above it by at most 5%: whatever else the snippet allocated and kept.
    return expected <= traced <= 1.05 * expected, detail


SLOTS_CLAIM = 40  # the curriculum's "~40%" saving of __slots__ over a __dict__ instance
SLOTS_FLOOR = 30  # percent: "about 40%" that measures under 30 is not the claim


def check_slots_are_smaller(obs):
    """A __slots__ instance takes about 40% less memory than a __dict__ one, as the curriculum
    says"""
    slots = obs["slots_saving.slots_bytes"]
    inline = obs["slots_saving.dict_bytes"]
    materialized = obs["slots_saving.dict_materialized_bytes"]
    saving = obs["slots_saving.saving_percent"]
    detail = (
        f"per instance: __slots__ {slots:.0f} B, __dict__ class {inline:.0f} B"
        f" ({saving:.0f}% saved), {materialized:.0f} B once __dict__ is asked for"
        f" ({obs['slots_saving.saving_vs_materialized_percent']:.0f}% saved)"
    )
    if not (slots > 0 and inline > 0):
        return False, f"{detail}: an instance takes no memory, which cannot be"
    made_of = 100 * (1 - slots / inline)  # the percentage judged is the one its bytes give
    if abs(made_of - saving) > 1:
        return False, f"{detail}: but {slots:.0f} B against {inline:.0f} B is {made_of:.0f}%"
    return saving >= SLOTS_FLOOR, f"{detail}; the claim ~{SLOTS_CLAIM}%: want >= {SLOTS_FLOOR}%"


def check_arenas_grow_and_shrink(obs):
    """pymalloc takes arenas for a burst of small objects and gives memory back after"""
    before, during, after = (obs[f"pymalloc_stats.{k}"] for k in ("before", "during", "after"))
    grew = during["arenas_allocated_current"] > before["arenas_allocated_current"]
    # Given back means arenas freed, not just blocks marked free inside arenas kept.
    shrank = (
        after["bytes_in_allocated_blocks"] < during["bytes_in_allocated_blocks"]
        and after["arenas_allocated_current"] < during["arenas_allocated_current"]
    )
    detail = (
        f"arenas {before['arenas_allocated_current']} -> {during['arenas_allocated_current']}"
        f" -> {after['arenas_allocated_current']}; bytes in blocks"
        f" {during['bytes_in_allocated_blocks']:,} -> {after['bytes_in_allocated_blocks']:,}"
    )
    return grew and shrank, detail


def check_blocks_land_in_the_computed_size_class(obs):
    """Each object lands in the size class its request rounds up to (a multiple of ALIGNMENT)"""
    expected = obs["pymalloc_stats.expected_classes"]
    grew = obs["pymalloc_stats.classes_that_grew"]
    detail = f"computed {expected}; grew by the burst: {grew}"
    return sorted(expected.values()) == sorted(int(size) for size in grew), detail


# sizeof(struct _object) on 64-bit, by Include/object.h: stock ob_refcnt 8 + ob_type 8;
# free-threaded ob_tid 8 + _padding 2 + ob_mutex 1 + ob_gc_bits 1 + ob_ref_local 4
# + ob_ref_shared 8 + ob_type 8.
OBJECT_H_HEADER_BYTES = {"stock": 16, "ft": 32}
HEADER_FACTS = ("py_gil_disabled", "header_bytes", "ob_type_offset", "refcount_read_back")


def header_facts(obs, variant: str) -> dict:
    return {fact: obs[f"object_header.{fact}@{variant}"] for fact in HEADER_FACTS}


def header_as_object_h_says(facts: dict, variant: str) -> bool:
    """The build is the one named, its header the size object.h gives, ob_type its last
    word, and the counts read at their offsets what sys.getrefcount() reports."""
    counts = facts["refcount_read_back"]
    return (
        facts["py_gil_disabled"] == (variant == "ft")
        and facts["header_bytes"] == OBJECT_H_HEADER_BYTES[variant]
        and facts["ob_type_offset"] == facts["header_bytes"] - 8
        and counts["from the fields"] == counts["sys.getrefcount"]
    )


def check_free_threaded_header_is_bigger(obs):
    """struct _object is 32 B on 3.13t, 16 B on stock: ob_tid, a lock, GC bits, a split count"""
    stock, ft = header_facts(obs, "stock"), header_facts(obs, "ft")
    ok = header_as_object_h_says(stock, "stock") and header_as_object_h_says(ft, "ft")

    def said(facts: dict) -> str:
        counts = facts["refcount_read_back"]
        return (
            f"Py_GIL_DISABLED {int(facts['py_gil_disabled'])}, sys.getsizeof(object())"
            f" {facts['header_bytes']} B, ob_type at byte {facts['ob_type_offset']},"
            f" refcount from the fields {counts['from the fields']}"
            f" (sys.getrefcount {counts['sys.getrefcount']})"
        )

    detail = f"stock: {said(stock)}; ft: {said(ft)}; object.h: 16 B and 32 B"
    return ok, detail


def check_only_objects_outside_the_gc_pay_for_it(obs):
    """Only objects of non-GC types pay 3.13t's bigger header: a GC type drops its PyGC_Head"""
    stock, ft = obs["object_header.sizes@stock"], obs["object_header.sizes@ft"]
    extra = obs["object_header.header_bytes@ft"] - obs["object_header.header_bytes@stock"]
    head = obs["object_header.gc_head_bytes@stock"]
    ft_head = obs["object_header.gc_head_bytes@ft"]

    def growth(name: str) -> int:
        return extra - head if stock[name]["gc_type"] else extra

    wrong = [name for name in stock if ft[name]["bytes"] - stock[name]["bytes"] != growth(name)]
    cells = ", ".join(f"{n} {stock[n]['bytes']} -> {ft[n]['bytes']}" for n in stock)
    detail = (
        f"header +{extra} B, PyGC_Head in front of a list {head} B -> {ft_head} B;"
        f" stock -> ft: {cells} (want +{extra - head} B for a GC type, +{extra} B otherwise)"
    )
    both_kinds = {entry["gc_type"] for entry in stock.values()} == {True, False}
    if not both_kinds:
        return False, f"{detail}: a GC type and a non-GC type are both needed to tell"
    ok = extra > 0 and head > 0 and ft_head == 0 and not wrong
    return ok, detail + (f"; not so: {', '.join(wrong)}" if wrong else "")


def owners_agree(tids: dict[str, int]) -> bool:
    """Equal within a thread, different across threads, the main thread's unchanged."""
    by_thread: dict[str, set[int]] = {}
    for label, tid in tids.items():
        by_thread.setdefault(label.split(",")[0], set()).add(tid)
    one_each = all(len(found) == 1 for found in by_thread.values())
    distinct = len({next(iter(found)) for found in by_thread.values()}) == len(by_thread)
    return one_each and distinct and len(by_thread) >= 3


def check_biased_counts(obs):
    """On ft, ob_tid names the maker thread; the owner moves ob_ref_local, others ob_ref_shared"""
    free_threaded = obs["object_header.py_gil_disabled@ft"]
    tids = obs["object_header.owner_tids@ft"]
    local = obs["object_header.local_count_moves@ft"]
    shared = obs["object_header.shared_count_moves@ft"]
    other_local = obs["object_header.local_count_after_other_thread@ft"]
    ok = free_threaded and owners_agree(tids) and local == 3 and shared == 3 and other_local == 0
    by_thread: dict[str, set[str]] = {}
    for label, tid in tids.items():
        by_thread.setdefault(label.split(",")[0], set()).add(hex(tid))
    owners = "; ".join(
        f"{thread} {', '.join(sorted(found))}" for thread, found in by_thread.items()
    )
    detail = (
        f"ob_tid by thread: {owners}. 3 references from the owner: ob_ref_local +{local};"
        f" 3 from another thread: ob_ref_shared +{shared}, ob_ref_local +{other_local}"
    )
    return ok, detail


def check_debug_total_refcount(obs):
    """The debug build's total refcount rises with new objects and falls back on del"""
    count = obs["total_refcount.count"]
    made, dropped = obs["total_refcount.after_make"], obs["total_refcount.after_del"]
    return made >= count and abs(dropped) < count // 10, f"+{made:,} then {dropped:+,}"
