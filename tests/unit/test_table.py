from lab.table import render


def test_columns_line_up() -> None:
    text = render(("a", "status"), [("engine", "ok"), ("x", "MISSING")])
    lines = text.splitlines()
    assert lines[0] == "a       status"
    assert lines[2].index("ok") == lines[3].index("MISSING") == lines[0].index("status")
