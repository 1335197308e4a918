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
    """tracemalloc sees at least what getsizeof says the list and objects take"""
    expected = obs["seed_tracemalloc.list_bytes"] + obs["seed_tracemalloc.objects_bytes"]
    traced = obs["seed_tracemalloc.traced_bytes"]
    # within 10% below: getsizeof counts the GC header, tracemalloc the allocations made
    return 0.9 * expected <= traced <= 1.5 * expected, f"traced {traced:,} B for {expected:,} B"


def check_slots_are_smaller(obs):
    """A __slots__ instance takes less memory than a __dict__ one (the saving is reported)"""
    saving = obs["slots_saving.saving_percent"]
    holds = obs["slots_saving.claim_40_percent_holds"]
    verdict = "holds" if holds else "does not hold"
    return saving > 0, f"saves {saving:.0f}%: the curriculum's ~40% {verdict} on this version"


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


def check_free_threaded_header_is_bigger(obs):
    """struct _object is bigger on 3.13t: it carries the biased-refcount fields"""
    stock, ft = obs["object_header.header_bytes@stock"], obs["object_header.header_bytes@ft"]
    verified = (
        obs["object_header.layout_verified@stock"] and obs["object_header.layout_verified@ft"]
    )
    fields = obs["object_header.fields@ft"]
    ok = ft > stock and verified and {"ob_tid", "ob_ref_local", "ob_ref_shared"} <= set(fields)
    return ok, f"stock {stock} B, ft {ft} B, layout read back from memory: {verified}"


def check_only_objects_outside_the_gc_pay_for_it(obs):
    """Only objects outside the GC pay 3.13t's bigger header: it drops the PyGC_Head"""
    stock, ft = obs["object_header.sizes@stock"], obs["object_header.sizes@ft"]
    extra = obs["object_header.header_bytes@ft"] - obs["object_header.header_bytes@stock"]
    wrong = [
        name
        for name, size in stock.items()
        if ft[name]["bytes"] - size["bytes"] != (0 if size["gc_tracked"] else extra)
    ]
    cells = ", ".join(f"{n} {stock[n]['bytes']} -> {ft[n]['bytes']}" for n in stock)
    detail = f"stock -> ft: {cells} (want +0 B when GC-tracked, +{extra} B otherwise)"
    return not wrong, detail + (f"; not so: {', '.join(wrong)}" if wrong else "")


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
    tids = obs["object_header.owner_tids@ft"]
    owned = owners_agree(tids)
    local = obs["object_header.local_count_moves@ft"]
    shared = obs["object_header.shared_count_moves@ft"]
    other_local = obs["object_header.local_count_after_other_thread@ft"]
    ok = owned and local == 3 and shared == 3 and other_local == 0
    detail = (
        f"ob_tid same within a thread, different across 3 threads, kept: {owned}; "
        f"owner: local +{local}; "
    )
    return ok, detail + f"from another thread: shared +{shared}, local +{other_local}"


def check_debug_total_refcount(obs):
    """The debug build's total refcount rises with new objects and falls back on del"""
    count = obs["total_refcount.count"]
    made, dropped = obs["total_refcount.after_make"], obs["total_refcount.after_del"]
    return made >= count and abs(dropped) < count // 10, f"+{made:,} then {dropped:+,}"
