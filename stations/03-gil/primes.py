"""The prime-counting benchmark: count the primes below LIMIT by trial division.

The work is split by interleaving: worker k of W tests the odd numbers 2k+1, 2k+1+2W, ...
Cutting the range into blocks instead would hand the last worker the largest (dearest)
numbers; interleaved, every worker gets the same mix. Pure Python on purpose: this is the
code the GIL serializes.
"""

from __future__ import annotations

import time


def is_prime(n: int) -> bool:
    if n < 3:
        return n == 2
    if n % 2 == 0:
        return False
    divisor = 3
    while divisor * divisor <= n:
        if n % divisor == 0:
            return False
        divisor += 2
    return True


def count_primes(worker: int, workers: int, limit: int) -> int:
    """The primes below LIMIT among the numbers that worker WORKER of WORKERS owns."""
    owned = range(2 * worker + 1, limit, 2 * workers)
    found = sum(1 for n in owned if is_prime(n))
    return found + (worker == 0 and limit > 2)  # 2, the one even prime, is worker 0's


def timed_count(worker: int, workers: int, limit: int) -> tuple[int, float]:
    """count_primes, and the CPU seconds the calling thread spent on it.

    Summed over the workers and divided by the wall time, that is how many cores were busy
    at once: about 1 when a GIL serializes the threads, whatever the host does to the clock.
    """
    started = time.thread_time()
    found = count_primes(worker, workers, limit)
    return found, time.thread_time() - started
