"""pymalloc's own statistics (sys._debugmallocstats) around a burst of small objects."""

import os
import re
import sys
import tempfile

from labkit import observe

COUNT = 200_000


def mallocstats() -> dict[str, int]:
    """Parse the C-level report that _debugmallocstats writes to file descriptor 2."""
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
        text = capture.read()
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
    return found


before = mallocstats()
burst = [(i, i) for i in range(COUNT)]  # small tuples: pymalloc's 32-byte size class
during = mallocstats()
del burst
after = mallocstats()
for label, stats in (("before", before), ("during", during), ("after", after)):
    print(f"{label:>7}: " + ", ".join(f"{k}={v:,}" for k, v in stats.items()))
    observe(label, stats)
