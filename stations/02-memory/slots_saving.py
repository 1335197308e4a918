"""What __slots__ saves per instance, measured with tracemalloc over many instances.

Since 3.11 an ordinary instance makes its __dict__ only when someone asks for it: until
then its attribute values sit in a plain values array. Since 3.13 that array is inline,
allocated with the object right after its header (Py_TPFLAGS_INLINE_VALUES). Asking
for __dict__ adds a dict object (a shared-keys dict over those same values), so the
saving is measured both ways.
"""

import tracemalloc

from labkit import observe

COUNT = 100_000


class WithDict:
    def __init__(self):
        self.x, self.y, self.z = 1, 2, 3


class WithSlots:
    __slots__ = ("x", "y", "z")

    def __init__(self):
        self.x, self.y, self.z = 1, 2, 3


def bytes_per_instance(cls, touch_dict=False):
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    instances = [cls() for _ in range(COUNT)]
    if touch_dict:
        for instance in instances:
            instance.__dict__  # noqa: B018 (asking for it makes the dict real)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    list_overhead = 8 * COUNT  # the list's own pointer per instance
    return (after - before - list_overhead) / COUNT


dict_bytes = bytes_per_instance(WithDict)
materialized = bytes_per_instance(WithDict, touch_dict=True)
slots_bytes = bytes_per_instance(WithSlots)
saving = 100 * (1 - slots_bytes / dict_bytes)
saving_materialized = 100 * (1 - slots_bytes / materialized)
print(
    f"per instance: __dict__ class {dict_bytes:.0f} B, once __dict__ is used "
    f"{materialized:.0f} B, __slots__ {slots_bytes:.0f} B"
)
print(f"saving: {saving:.0f}% (inline values), {saving_materialized:.0f}% (materialized dict)")
print(f"within 10 points of the curriculum's ~40%: {abs(saving - 40) <= 10}")
observe("dict_bytes", dict_bytes, "B")
observe("dict_materialized_bytes", materialized, "B")
observe("slots_bytes", slots_bytes, "B")
observe("saving_percent", saving, "%")
observe("saving_vs_materialized_percent", saving_materialized, "%")
