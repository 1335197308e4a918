"""The first columns: your code, as ruff reads it (an AST), and that AST itself.

The linter is run on a learner's file, not on the lab: the station writes station 3's
prime counter out as `learner_primes.py` with one bug planted (`n is 2`, an identity test
where equality was meant: it works for small ints only because CPython caches them), and
ruff must find that bug, at that line, and nothing in the untouched original.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections import Counter
from pathlib import Path

from labkit import observe, output_dir

STATIONS = Path(__file__).resolve().parents[1]
WORKLOAD = STATIONS / "03-gil" / "primes.py"
CORRECT, PLANTED = "return n == 2", "return n is 2"
# The project's own rules (pyproject.toml is not mounted here, so they are named).
RULES = ["--select", "E,F,W,B,UP,SIM,RUF", "--line-length", "100", "--target-version", "py313"]
RUFF = ["ruff", "check", "--no-cache", "--isolated", "--output-format", "json", *RULES]


def ruff(path: Path) -> list[dict]:
    done = subprocess.run([*RUFF, str(path)], capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout or "[]")


def plant_bug(source: str) -> tuple[str, int]:
    """The source with the bug planted, and the line it is on."""
    if source.count(CORRECT) != 1:
        raise SystemExit(f"code_and_ast: {WORKLOAD.name} no longer has one `{CORRECT}`")
    line = source[: source.index(CORRECT)].count("\n") + 1
    return source.replace(CORRECT, PLANTED), line


def main() -> None:
    source = WORKLOAD.read_text()
    tree = ast.parse(source)
    kinds = Counter(type(node).__name__ for node in ast.walk(tree))
    is_prime = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    print(f"station 3's {WORKLOAD.name}: {sum(kinds.values())} AST nodes; is_prime's loop test:")
    loop = next(n for n in ast.walk(is_prime) if isinstance(n, ast.While))
    print("  " + ast.dump(loop.test))
    observe("ast_nodes", sum(kinds.values()))
    observe("ast_commonest", dict(kinds.most_common(4)))

    learner = output_dir() / "learner_primes.py"
    planted, line = plant_bug(source)
    learner.write_text(planted)
    original = ruff(WORKLOAD)
    findings = ruff(learner)
    for finding in findings:
        print(f"  ruff: {learner.name}:{finding['location']['row']} {finding['code']} "
              f"{finding['message']}")  # fmt: skip
    print(f"ruff on the original: {len(original)} findings; on {learner.name} (bug planted at "
          f"line {line}: `{PLANTED}`): {len(findings)}")  # fmt: skip
    observe("learner_file", learner.name)
    observe("planted", {"line": line, "code": PLANTED})
    observe("ruff_findings_original", len(original))
    observe("ruff_findings", [{"line": f["location"]["row"], "code": f["code"]} for f in findings])


if __name__ == "__main__":
    main()
