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
