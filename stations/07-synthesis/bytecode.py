"""The bytecode column: dis of station 3's hot function, before and after it warms up."""

from __future__ import annotations

import dis

import workload  # noqa: F401  (puts station 3 on the path)
from labkit import observe
from primes import is_prime


def opnames(function) -> list[str]:
    return [i.opname for i in dis.get_instructions(function, adaptive=True)]


def main() -> None:
    cold = opnames(is_prime)
    for n in range(20_000):  # warm-up: the specializing interpreter rewrites hot instructions
        is_prime(n)
    warm = opnames(is_prime)
    dis.dis(is_prime, adaptive=True)
    changed = sorted({w for c, w in zip(cold, warm, strict=True) if c != w})
    print(f"specialized after warm-up: {', '.join(changed) or 'nothing'}")
    observe("instructions", len(warm))
    observe("specialized", changed)


if __name__ == "__main__":
    main()
