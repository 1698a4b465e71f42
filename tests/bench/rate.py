"""Calls a second of a function, for the Python benchmarks."""
import time


def rate(f, seconds):
    """calls of f a second over seconds, after one warm-up call"""
    f()
    n, start = 0, time.perf_counter()
    while True:
        f()
        n += 1
        now = time.perf_counter()
        if now - start >= seconds:
            return n / (now - start)
