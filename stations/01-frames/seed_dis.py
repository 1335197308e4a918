"""The curriculum's snippet, unchanged, then what it printed as observations."""

import dis

from labkit import observe


def f(x):
    return x * x + 1


dis.dis(f, adaptive=True)
print(f.__code__.co_consts, f.__code__.co_names, f.__code__.co_varnames)

observe("co_consts", repr(f.__code__.co_consts))
observe("co_varnames", list(f.__code__.co_varnames))
observe("opnames", [i.opname for i in dis.get_instructions(f)])
