"""Station 1's checks: each returns (passed, what was measured)."""


def check_seed_snippet_ran(obs):
    """The seed's snippet shows x*x+1 as bytecode: local loads and two BINARY_OPs"""
    opnames = obs["seed_dis.opnames"]
    # 3.13 fuses the two reads of x into one superinstruction, LOAD_FAST_LOAD_FAST.
    loads_local = any(op.startswith("LOAD_FAST") for op in opnames)
    return loads_local and opnames.count("BINARY_OP") == 2, " ".join(opnames)


def check_stock_specializes(obs):
    """Warm-up specializes instructions on the stock build"""
    specialized = obs["specialization.specialized@stock"]
    return bool(specialized), ", ".join(specialized) or "nothing specialized"


def check_ft_does_not_specialize_in_313(obs):
    """3.13t runs with the specializing interpreter off (it comes to ft in 3.14)"""
    specialized = obs["specialization.specialized@ft"]
    return not specialized, ", ".join(specialized) or "no instruction changed after warm-up"


def check_local_read_is_faster(obs):
    """A local read (LOAD_FAST) is faster than a global read (LOAD_GLOBAL)"""
    ratio = obs["load_fast_vs_global.global_over_local@stock"]
    return ratio > 1.0, f"global / local = {ratio:.2f}x on stock"


def check_traceback_pins_locals(obs):
    """A stored exception keeps its frame's locals alive; dropping it frees them"""
    returned = obs["frame_lifetime.locals_alive_after_return"]
    held = obs["frame_lifetime.locals_alive_while_exception_held"]
    dropped = obs["frame_lifetime.locals_alive_after_exception_dropped"]
    detail = f"alive after return: {returned}, while held: {held}, after drop: {dropped}"
    return (not returned and held and not dropped), detail
