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
    shrank = after["bytes_in_allocated_blocks"] < during["bytes_in_allocated_blocks"]
    detail = (
        f"arenas {before['arenas_allocated_current']} -> {during['arenas_allocated_current']}"
        f" -> {after['arenas_allocated_current']}"
    )
    return grew and shrank, detail


def check_free_threaded_header_is_bigger(obs):
    """The free-threaded header carries the biased-refcount fields (and is bigger)"""
    stock, ft = obs["object_header.header_bytes@stock"], obs["object_header.header_bytes@ft"]
    verified = (
        obs["object_header.layout_verified@stock"] and obs["object_header.layout_verified@ft"]
    )
    fields = obs["object_header.fields@ft"]
    ok = ft > stock and verified and {"ob_tid", "ob_ref_local", "ob_ref_shared"} <= set(fields)
    return ok, f"stock {stock} B, ft {ft} B, layout read back from memory: {verified}"


def check_biased_counts(obs):
    """On ft the owner thread moves ob_ref_local; another thread moves ob_ref_shared"""
    owner = obs["object_header.owner_is_this_thread@ft"]
    local = obs["object_header.local_count_moves@ft"]
    shared = obs["object_header.shared_count_moves@ft"]
    other_local = obs["object_header.local_count_after_other_thread@ft"]
    ok = owner and local == 3 and shared == 3 and other_local == 0
    detail = f"owner is this thread: {owner}; local +{local}; "
    return ok, detail + f"from another thread: shared +{shared}, local +{other_local}"


def check_debug_total_refcount(obs):
    """The debug build's total refcount rises with new objects and falls back on del"""
    count = obs["total_refcount.count"]
    made, dropped = obs["total_refcount.after_make"], obs["total_refcount.after_del"]
    return made >= count and abs(dropped) < count // 10, f"+{made:,} then {dropped:+,}"
