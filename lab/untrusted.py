"""What a container prints is untrusted: made safe before the host shows or keeps it.

An experiment can print any bytes: invalid UTF-8, terminal escape sequences, endless
lines, malformed or endless observations, NaN. Each becomes text that is safe on a
terminal and in JSON and Markdown, or a one-line note of what was dropped.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from lab.errors import LabError

MAX_TEXT = 2000  # characters of one line kept
MAX_OBSERVATIONS = 2000  # per experiment: an endless stream must not fill the host's memory
MAX_VALUE_CHARS = 100_000  # an observation's JSON
MAX_OBSERVED_CHARS = 5_000_000  # all of one experiment's observations
# C0 and C1 controls (escape sequences start with ESC or CSI), DEL, and Unicode's bidi
# overrides, which can make a terminal line read differently from what it holds.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Malformed(ValueError):
    """An observation line that cannot be taken in; the message says why, in a few words."""


def text(raw: bytes | str, limit: int = MAX_TEXT) -> str:
    """RAW as one printable line: decoded leniently, controls shown as `?`, cut at LIMIT."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    clean = CONTROL.sub("?", raw.expandtabs(4))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _no_constants(name: str) -> Any:
    raise Malformed(f"{name} is not a number JSON can hold")


def _finite(value: Any) -> Any:
    """VALUE, with every float checked finite (json also parses 1e999 as inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Malformed(f"{value} is not a number JSON can hold")
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {text(k, 200): _finite(v) for k, v in value.items()}
    return value


def observation(payload: str) -> dict:
    """The record after the marker: {"name": str, "value": JSON, "unit": str}, or Malformed."""
    if len(payload) > MAX_VALUE_CHARS:
        raise Malformed(f"longer than {MAX_VALUE_CHARS:,} characters")
    try:
        record = json.loads(payload, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"not JSON ({text(str(error), 80)})") from None
    if not isinstance(record, dict):
        raise Malformed(f"a JSON {type(record).__name__}, not an object")
    if not {"name", "value"} <= record.keys() or not record.keys() <= {"name", "value", "unit"}:
        raise Malformed(f"keys {sorted(record)}, not name, value and unit")
    name, unit = record["name"], record.get("unit", "")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
        raise Malformed("its name is not a short word (letters, digits, _ . -)")
    if not isinstance(unit, str):
        raise Malformed("its unit is not a string")
    return {"name": name, "value": _finite(record["value"]), "unit": text(unit, 100)}


READING_STATUSES = {"found", "moved", "missing", "document"}


def reading(asked: list[dict], raw: bytes) -> list[dict]:
    """The reading resolver's answer, checked: one entry per entry asked, strings only."""
    try:
        resolved = json.loads(raw)
    except ValueError:
        raise LabError("the reading resolver's answer is not JSON") from None
    if not isinstance(resolved, list) or len(resolved) != len(asked):
        raise LabError("the reading resolver answered a different number of entries")
    return [_reading_entry(entry) for entry in resolved]


def _reading_entry(entry: object) -> dict:
    if not isinstance(entry, dict) or entry.get("status") not in READING_STATUSES:
        raise LabError("the reading resolver's answer has an entry without a known status")
    clean: dict = {}
    for key, value in entry.items():
        if isinstance(value, str):
            clean[text(key, 40)] = text(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[text(key, 40)] = [text(v) for v in value[:50]]
    return clean
