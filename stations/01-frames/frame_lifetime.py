"""A frame's life, proved with weak references rather than asserted.

A call's locals die when the call returns, unless something still reaches its frame:
a stored exception's __traceback__ does (traceback -> frame -> locals).
"""

import gc
import sys
import weakref

from labkit import observe


class Payload:
    """Something a local holds; a weak reference tells whether it is still alive."""


refs = []


def returns_normally():
    payload = Payload()
    refs.append(weakref.ref(payload))


def raises():
    payload = Payload()
    refs.append(weakref.ref(payload))
    raise ValueError("boom")


gc.disable()  # refcounting alone must do it: no help from the cyclic collector

returns_normally()
alive_after_return = refs[-1]() is not None

try:
    raises()
except ValueError as error:
    stored = error  # what a logger or a retry loop often does
alive_while_held = refs[-1]() is not None
frame = stored.__traceback__.tb_next.tb_frame  # the raising call's frame, kept by the traceback
reached = {"frame of": frame.f_code.co_name, "locals": sorted(frame.f_locals)}
print(f"traceback reaches frame {reached['frame of']!r} with locals {reached['locals']}")
del frame
del stored
alive_after_drop = refs[-1]() is not None

print(f"after a normal return, payload alive:      {alive_after_return}")
print(f"while the exception is stored, alive:      {alive_while_held}")
print(f"after the exception is dropped, alive:     {alive_after_drop}")
observe("locals_alive_after_return", alive_after_return)
observe("locals_alive_while_exception_held", alive_while_held)
observe("locals_alive_after_exception_dropped", alive_after_drop)
observe("locals_reached_through_traceback", reached)
observe("python", sys.version.split()[0])
