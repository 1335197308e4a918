"""pymalloc's own statistics (sys._debugmallocstats) around a burst of small objects.

The burst is COUNT 2-tuples of fresh ints. Each request is rounded up to a size class
(a multiple of ALIGNMENT: the threshold over the number of classes, both printed by
_debugmallocstats), and the classes whose blocks in use grew by the burst are read back.
"""

import os
import re
import sys
import tempfile

from labkit import observe

COUNT = 200_000
CLASS_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)


def mallocstats_text() -> str:
    """The C-level report that _debugmallocstats writes to file descriptor 2."""
    with tempfile.TemporaryFile(mode="w+") as capture:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read()


def mallocstats() -> dict:
    text = mallocstats_text()
    wanted = {
        "arenas_allocated_current": r"# arenas allocated current\s*=\s*([\d,]+)",
        "arenas_highwater": r"# arenas highwater mark\s*=\s*([\d,]+)",
        "unused_pools": r"([\d,]+) unused pools",
        "bytes_in_allocated_blocks": r"# bytes in allocated blocks\s*=\s*([\d,]+)",
    }
    found = {}
    for key, pattern in wanted.items():
        match = re.search(pattern, text)
        found[key] = int(match.group(1).replace(",", "")) if match else -1
    # class, size, pools, blocks in use, blocks free: blocks in use by block size
    found["blocks_in_use"] = {
        int(size): int(used) for _, size, _, used, _ in CLASS_ROW.findall(text)
    }
    return found


def alignment() -> int:
    match = re.search(r"threshold = (\d+), in (\d+) size classes", mallocstats_text())
    return int(match.group(1)) // int(match.group(2))


def size_class(request: int, align: int) -> int:
    return -(-request // align) * align


align = alignment()
expected = {
    f"2-tuple ({sys.getsizeof((COUNT, COUNT))} B)": size_class(
        sys.getsizeof((COUNT, COUNT)), align
    ),
    f"int ({sys.getsizeof(COUNT)} B)": size_class(sys.getsizeof(COUNT), align),
}
before = mallocstats()
burst = [(i, i) for i in range(COUNT)]  # the tuples, and an int object for each i > 256
during = mallocstats()
del burst
after = mallocstats()
grew = {
    size: used - before["blocks_in_use"].get(size, 0)
    for size, used in during["blocks_in_use"].items()
    if used - before["blocks_in_use"].get(size, 0) >= 0.9 * COUNT
}
for label, stats in (("before", before), ("during", during), ("after", after)):
    shown = {k: v for k, v in stats.items() if k != "blocks_in_use"}
    print(f"{label:>7}: " + ", ".join(f"{k}={v:,}" for k, v in shown.items()))
    observe(label, shown)
print(f"ALIGNMENT {align} B; computed size classes: {expected}")
print("classes whose blocks in use grew by the burst: "
      + ", ".join(f"{size} B: +{n:,}" for size, n in grew.items()))  # fmt: skip
observe("alignment", align, "B")
observe("expected_classes", expected, "B")
observe("classes_that_grew", {str(size): n for size, n in grew.items()}, "blocks")
