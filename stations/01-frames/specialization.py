"""PEP 659 at work: the same function's instructions before and after it gets hot."""

import dis
import sysconfig

from labkit import observe

WARMUP_CALLS = 1000


def f(x):
    return x * x + 1


def adaptive_opnames(function):
    return [i.opname for i in dis.get_instructions(function, adaptive=True)]


before = adaptive_opnames(f)
# One call: on stock, RESUME becomes RESUME_CHECK at once, whatever the types (CPython lists it
# as RESUME's one specialization, Lib/_opcode_metadata.py); on 3.13t RESUME is never rewritten
# (Python/bytecodes.c does it under ENABLE_SPECIALIZATION, which pycore_code.h sets to 0
# without the GIL). Neither shows the types being specialized for.
f(1)
after_one = adaptive_opnames(f)
for n in range(WARMUP_CALLS):
    f(n)
after = adaptive_opnames(f)

print(f"{'before warm-up':<24}{'after 1 call':<24}after {WARMUP_CALLS} calls")
for old, one, new in zip(before, after_one, after, strict=True):
    print(f"{old:<24}{one:<24}{new}{'   <- specialized' if one != new else ''}")

# 3.13 compiles the specializer out of a Py_GIL_DISABLED build (whether or not PYTHON_GIL=1
# turns the GIL back on at run time), so the build is what sysconfig says it was compiled as.
build = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL"
print(f"\n{build} build: {sum(o != n for o, n in zip(after_one, after, strict=True))} specialized")
observe("warmup_calls", WARMUP_CALLS)
observe("before", before)
observe("after", after)
observe("changed_after_one_call", [f"{o} -> {n}" for o, n in zip(before, after_one, strict=True)
                                   if o != n])  # fmt: skip
observe("specialized", [f"{o} -> {n}" for o, n in zip(before, after, strict=True) if o != n])
