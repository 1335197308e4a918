"""The synthesis' checks: each column's tool worked on the workload and saw what it should."""


def check_ruff_finds_the_planted_bug(obs):
    """ruff finds the bug planted in a learner's copy of the workload, none in the original"""
    planted = obs["code_and_ast.planted"]
    findings = obs["code_and_ast.ruff_findings"]
    original = obs["code_and_ast.ruff_findings_original"]
    at_line = [f["code"] for f in findings if f["line"] == planted["line"]]
    detail = (
        f"`{planted['code']}` planted at line {planted['line']}: ruff says {at_line or 'nothing'}"
        f" there, {len(findings)} findings in all; {original} in the original"
    )
    return bool(at_line) and original == 0, detail


# is_prime's `divisor * divisor` and `divisor += 2` on ints; RESUME -> RESUME_CHECK (the first
# call's, whatever the types: RESUME's type-independent specialization) and COMPARE_OP_INT
# alone would not show the arithmetic specialized.
INT_ARITHMETIC = ("BINARY_OP_MULTIPLY_INT", "BINARY_OP_ADD_INT")


def check_dis_shows_specialization(obs):
    """dis(adaptive=True) shows the hot function's instructions specialized after warm-up"""
    specialized = obs["bytecode.specialized"]
    missing = [op for op in INT_ARITHMETIC if op not in specialized]
    detail = ", ".join(specialized) or "nothing specialized"
    return not missing, detail + (f"; missing: {', '.join(missing)}" if missing else "")


def check_py_spy_finds_the_hot_function(obs):
    """py-spy puts most of the pure-Python workload's samples in is_prime"""
    share = obs["profile_flame.is_prime_share"]
    return share > 50, f"{share:.0f}% of the samples in is_prime"


# The NumPy workload's two biggest loops, np.sin's and np.sqrt's on doubles: their names go on
# with the instruction set the CPU picked (DOUBLE_sin_AVX512_SKX, DOUBLE_sqrt_SSE41).
WORKLOAD_LOOPS = ("DOUBLE_sin", "DOUBLE_sqrt")
INNER_LOOPS_AT_LEAST = 50  # % of the samples: measured 91% (1M doubles a call, little dispatch)


def check_native_profile_shows_the_c_loops(obs):
    """py-spy --native shows the NumPy workload's time inside NumPy's inner loops (sin, sqrt)"""
    loops = obs["profile_flame.inner_loops"]
    in_loops = obs["profile_flame.inner_loop_share"]
    in_numpy_c = obs["profile_flame.numpy_c_share"]
    missing = [p for p in WORKLOAD_LOOPS if not any(name.startswith(p) for name in loops)]
    named = ", ".join(f"{name} {percent:.0f}%" for name, percent in loops.items())
    detail = (
        f"{in_loops:.0f}% of the samples in NumPy's inner loops ({named or 'none seen'}),"
        f" {in_numpy_c:.1f}% in its C code, dispatch included"
    )
    if missing:
        detail += f"; no {' or '.join(missing)} loop in the profile"
    return not missing and in_loops >= INNER_LOOPS_AT_LEAST, detail


def check_gdb_sees_both_stacks(obs):
    """gdb on the debug build shows the eval loop in C and is_prime in Python, at once"""
    c_frames, python_frames = obs["gdb_py_bt.c_frames"], obs["gdb_py_bt.python_frames"]
    in_eval = any("EvalFrame" in frame for frame in c_frames)
    detail = f"C: {', '.join(c_frames[:4])}...; Python: {', '.join(python_frames)}"
    return in_eval and "is_prime" in python_frames, detail


def check_perf_map_names_python_functions(obs):
    """-X perf writes a perf map naming a trampoline for each Python function (is_prime too)"""
    python = obs["observability.perf_map_python"]
    total = obs["observability.perf_map_entries"]
    found = [entry for entry in python if entry.startswith("py::is_prime:")]
    return bool(found), f"{total} entries; station 3's: {', '.join(python) or 'none'}"


def check_monitoring_instruments_then_restores(obs):
    """sys.monitoring rewrites a code object into INSTRUMENTED_* and back, de-specialized

    What instrumenting keeps is the generic instruction (_PyOpcode_Deopt): each specialized
    one must come back generic once the events are off, and specialize again as calls warm
    it up. BINARY_OP_MULTIPLY_INT must be among them, so an empty list cannot pass."""
    seen = obs["observability.instrumented"]
    rewrites = obs["observability.rewrites"]
    events = obs["observability.line_events"]
    calls = obs["observability.calls_to_respecialize"]
    instrumented = not seen["warm"] and "INSTRUMENTED_INSTRUCTION" in seen["events on"]
    restored = instrumented and not seen["events off"] and events > 0
    stayed = [r["warm"] for r in rewrites if r["events off"] != r["generic"]]
    cold = [r["warm"] for r in rewrites if r["re-warmed"] == r["generic"]]
    measured = any(r["warm"] == "BINARY_OP_MULTIPLY_INT" for r in rewrites)
    # Specializing again takes calls: 0, or fewer, is not a count a run can make.
    respecialized = isinstance(calls, int) and not isinstance(calls, bool) and calls > 0
    ok = restored and measured and not stayed and not cold and respecialized
    pairs = sorted({f"{r['warm']} -> {r['events off']}" for r in rewrites})
    detail = f"{seen}; {events} LINE events; events off: {', '.join(pairs) or 'nothing rewritten'}"
    detail += f"; specialized again after {calls} calls" if calls else "; never specialized again"
    if stayed:
        detail += f"; still specialized after the events: {', '.join(stayed)}"
    return ok, detail
