"""The synthesis' checks: each column's tool worked on the workload and saw what it should."""


def check_ruff_finds_nothing_in_the_station_code(obs):
    """ruff reads every station's code and finds nothing to fix"""
    findings, files = obs["code_and_ast.ruff_findings"], obs["code_and_ast.ruff_files"]
    return findings == 0 and files > 0, f"{findings} findings in {files} files"


def check_dis_shows_specialization(obs):
    """dis(adaptive=True) shows the hot function's instructions specialized after warm-up"""
    specialized = obs["bytecode.specialized"]
    return bool(specialized), ", ".join(specialized) or "nothing specialized"


def check_py_spy_finds_the_hot_function(obs):
    """py-spy puts most of the pure-Python workload's samples in is_prime"""
    share = obs["profile_flame.is_prime_share"]
    return share > 50, f"{share:.0f}% of the samples in is_prime"


def check_native_profile_shows_the_c_loops(obs):
    """py-spy --native shows the NumPy workload's time inside NumPy's C loops"""
    share = obs["profile_flame.numpy_c_share"]
    return share > 20, f"{share:.0f}% of the samples in NumPy's C functions"


def check_gdb_sees_both_stacks(obs):
    """gdb on the debug build shows the eval loop in C and is_prime in Python, at once"""
    c_frames, python_frames = obs["gdb_py_bt.c_frames"], obs["gdb_py_bt.python_frames"]
    in_eval = any("EvalFrame" in frame for frame in c_frames)
    detail = f"C: {', '.join(c_frames[:4])}...; Python: {', '.join(python_frames)}"
    return in_eval and "is_prime" in python_frames, detail
