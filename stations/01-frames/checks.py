"""Station 1's checks: each returns (passed, what was measured)."""


def check_seed_snippet_ran(obs):
    """The seed's snippet shows x*x+1 as bytecode: local loads and two BINARY_OPs"""
    opnames = obs["seed_dis.opnames"]
    # 3.13 fuses the two reads of x into one superinstruction, LOAD_FAST_LOAD_FAST.
    loads_local = any(op.startswith("LOAD_FAST") for op in opnames)
    return loads_local and opnames.count("BINARY_OP") == 2, " ".join(opnames)


# x * x + 1 on ints: what warm-up must produce. RESUME -> RESUME_CHECK (RESUME's specialization,
# stock only: 3.13t never rewrites RESUME) happens on the first call whatever the types, so it
# proves nothing about specializing for ints.
INT_SPECIALIZATIONS = ("BINARY_OP -> BINARY_OP_MULTIPLY_INT", "BINARY_OP -> BINARY_OP_ADD_INT")


def check_stock_specializes(obs):
    """Warm-up specializes x * x + 1 on stock: BINARY_OP_MULTIPLY_INT, BINARY_OP_ADD_INT"""
    specialized = obs["specialization.specialized@stock"]
    missing = [s for s in INT_SPECIALIZATIONS if s not in specialized]
    detail = ", ".join(specialized) or "nothing specialized"
    return not missing, detail + (f"; missing: {', '.join(missing)}" if missing else "")


def check_ft_does_not_specialize_in_313(obs):
    """3.13t runs with the specializing interpreter off (it comes to ft in 3.14)"""
    specialized = obs["specialization.specialized@ft"]
    before, after = obs["specialization.before@ft"], obs["specialization.after@ft"]
    if not before or before != after:  # nothing read is no evidence of nothing changed
        return False, f"instructions before warm-up {before}, after {after}"
    return not specialized, ", ".join(specialized) or (
        f"none of f's {len(after)} instructions changed after warm-up"
    )


def check_local_read_is_faster(obs):
    """A local read (LOAD_FAST) is faster than a global read (LOAD_GLOBAL), beyond the noise"""
    obs.timed()
    ratio = obs["load_fast_vs_global.global_over_local@stock"]
    # The A/A test: the local reader timed against itself is off by the noise alone.
    same = obs["load_fast_vs_global.local_over_itself@stock"]
    detail = (
        f"global / local = {ratio:.3f}x on stock (the reads alone, an empty loop's time taken off)"
    )
    return obs.beyond_noise(ratio, same, detail)


NARROWS = 0.5  # ft's global/local at least 1.5x stock's: the gap the specializer closes


def check_specialization_narrows_the_global_read(obs):
    """A global read costs more, next to a local, on 3.13t (no specialization) than on stock"""
    obs.timed()
    stock = obs["load_fast_vs_global.global_over_local@stock"]
    ft = obs["load_fast_vs_global.global_over_local@ft"]
    instruction = obs["load_fast_vs_global.global_instruction@stock"]
    specialized = [op for op in instruction if op != "LOAD_GLOBAL"]  # stock's, after warm-up
    # Two containers, two A/A tests: the two ratios' noises add up.
    noise = sum(abs(obs[f"load_fast_vs_global.local_over_itself@{v}"] - 1) for v in ("stock", "ft"))
    detail = (
        f"global / local: stock {stock:.2f}x ({', '.join(instruction)}), ft {ft:.2f}x"
        " (generic LOAD_GLOBAL; not specialization alone: 3.13t's dict lookup is its"
        " thread-safe one, _Py_dict_lookup_threadsafe in Objects/dictobject.c)"
    )
    if not specialized:
        return False, f"{detail}: but stock's global read was not specialized"
    return obs.beyond_noise(ft / stock, 1 + noise, detail, min_margin=NARROWS)


def check_traceback_pins_locals(obs):
    """A stored exception keeps its frame's locals alive; dropping it frees them"""
    returned = obs["frame_lifetime.locals_alive_after_return"]
    held = obs["frame_lifetime.locals_alive_while_exception_held"]
    dropped = obs["frame_lifetime.locals_alive_after_exception_dropped"]
    reached = obs["frame_lifetime.locals_reached_through_traceback"]
    # The path that pins them: __traceback__ -> the raising call's frame -> its locals.
    through = reached["frame of"] == "raises" and "payload" in reached["locals"]
    detail = (
        f"alive after return: {returned}, while held: {held}, after drop: {dropped};"
        f" the traceback reaches {reached['frame of']}() with locals {reached['locals']}"
    )
    return (not returned and held and not dropped and through), detail


def check_frame_homes(obs):
    """A frame lives on the data stack, inside its generator, or copied into its frame object"""
    on_stack = obs["frame_homes.call_frame_on_data_stack"]
    copied = obs["frame_homes.frame_copied_into_frame_object"]
    in_gen = obs["frame_homes.generator_frame_inside_generator"]
    kept = obs["frame_homes.locals_after_return"]
    ok = on_stack and copied and in_gen and kept == {"secret": "kept"}
    detail = (
        f"on the data stack during the call: {on_stack}; copied into the frame object after"
        f" return: {copied} (f_locals {kept}); inside the generator: {in_gen}"
    )
    return ok, detail


def check_frame_object_made_lazily(obs):
    """A call makes no frame object on the heap until something asks for one"""
    heap = obs["frame_homes.heap_bytes_per_call"]
    plain, asked = heap["plain call"], heap["call asking sys._getframe()"]
    detail = f"heap bytes during a plain call: {plain}; when it asks sys._getframe(): {asked}"
    return plain == 0 and asked > 0, detail
