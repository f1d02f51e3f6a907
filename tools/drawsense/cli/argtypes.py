"""argparse types for numbers: finite, in range, or a one-line usage error
that names the option (argparse adds it) and the range."""

from __future__ import annotations

import argparse
import math
from typing import Callable


def number(lo: float, hi: float, *, above: bool = False) -> Callable[[str], float]:
    """A float from lo (exclusive when `above`) to hi, never NaN or infinite."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or x > hi or x < lo or (above and x == lo):
            low = f"more than {lo:g}" if above else f"from {lo:g}"
            raise argparse.ArgumentTypeError(f"must be a number {low} to {hi:g}, not {text!r}")
        return x
    return parse


def whole(lo: int, hi: int) -> Callable[[str], int]:
    """An int from lo to hi."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = lo - 1
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"must be a whole number from {lo} to {hi}, not {text!r}")
        return n
    return parse


FAULTS = ("flash", "radio", "hang")


def fault(text: str) -> tuple[str, float]:
    """KIND@MS: a fault the virtual board injects once, at its first chance from MS ms."""
    kind, sep, at = text.partition("@")
    try:
        ms = float(at)
    except ValueError:
        ms = math.nan
    if not sep or kind not in FAULTS or not math.isfinite(ms) or ms < 0:
        raise argparse.ArgumentTypeError(f"give KIND@MS with KIND one of {', '.join(FAULTS)} and MS >= 0 "
                                         f"(e.g. radio@1000), not {text!r}")
    return kind, ms


def heapsize(text: str) -> str:
    """MicroPython's -X heapsize= (bytes, or a number with K or M), 16K..64M."""
    from drawsense.sim.vboard import heap_bytes

    try:
        n = heap_bytes(text)
    except ValueError:
        n = 0
    if not 16 << 10 <= n <= 64 << 20:
        raise argparse.ArgumentTypeError(f"give a heap size from 16K to 64M, e.g. 192K, not {text!r}")
    return text
