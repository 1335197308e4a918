"""The first columns: your code, as ruff reads it (an AST), and that AST itself."""

from __future__ import annotations

import ast
import json
import subprocess
from collections import Counter
from pathlib import Path

from labkit import observe

STATIONS = Path(__file__).resolve().parents[1]
WORKLOAD = STATIONS / "03-gil" / "primes.py"
# The project's own rules (pyproject.toml is not mounted here, so they are named).
RULES = ["--select", "E,F,W,B,UP,SIM,RUF", "--line-length", "100", "--target-version", "py313"]
RUFF = ["ruff", "check", "--no-cache", "--isolated", "--output-format", "json", *RULES]


def main() -> None:
    tree = ast.parse(WORKLOAD.read_text())
    kinds = Counter(type(node).__name__ for node in ast.walk(tree))
    is_prime = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    print(f"station 3's {WORKLOAD.name}: {sum(kinds.values())} AST nodes; is_prime's loop test:")
    loop = next(n for n in ast.walk(is_prime) if isinstance(n, ast.While))
    print("  " + ast.dump(loop.test))
    observe("ast_nodes", sum(kinds.values()))
    observe("ast_commonest", dict(kinds.most_common(4)))

    files = sorted(STATIONS.rglob("*.py"))
    done = subprocess.run([*RUFF, str(STATIONS)], capture_output=True, text=True)
    findings = json.loads(done.stdout or "[]")
    for finding in findings:
        where = f"{Path(finding['filename']).relative_to(STATIONS)}:{finding['location']['row']}"
        print(f"  ruff: {where} {finding['code']} {finding['message']}")
    print(f"ruff read {len(files)} files of station code: {len(findings)} findings")
    observe("ruff_files", len(files))
    observe("ruff_findings", len(findings))


if __name__ == "__main__":
    main()
