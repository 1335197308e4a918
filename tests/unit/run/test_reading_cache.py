"""lab/run/reading_cache.py: the reading list's resolution, cached per image."""

from __future__ import annotations

from lab.run import reading_cache


def test_a_corrupt_reading_cache_is_ignored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    entries = [{"tree": "cpython", "path": "x.c"}]
    path = tmp_path / "reading" / f"{reading_cache.key('img', entries)}.json"
    path.parent.mkdir()
    path.write_text('[{"status": "pwned"}]')
    fresh = [{"tree": "cpython", "path": "x.c", "status": "found"}]
    assert reading_cache.cached("img", entries, lambda: fresh) == fresh
    assert reading_cache.cached("img", entries, lambda: 1 / 0) == fresh, "now cached"
