"""Run the pure firmware modules under CPython.

They import two MicroPython names CPython lacks: micropython.const and
time.ticks_add / ticks_diff / ticks_ms. These are defined here exactly as MicroPython
defines them on a 32-bit board (ticks wrap at 2**30), so the property tests
exercise the same wrap-around arithmetic. Nothing else is substituted.
"""

from __future__ import annotations

import importlib
import sys
import time
import types
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
PERIOD = 1 << 30
_HALF = PERIOD >> 1


def ticks_add(t: int, delta: int) -> int:
    if not -_HALF <= delta < _HALF:
        raise OverflowError("ticks interval overflow")
    return (t + delta) % PERIOD


def ticks_diff(a: int, b: int) -> int:
    return ((a - b + _HALF) % PERIOD) - _HALF


def ticks_ms() -> int:
    return int(time.monotonic() * 1000) % PERIOD


def load(name: str):
    if "micropython" not in sys.modules:
        mp = types.ModuleType("micropython")
        mp.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = mp
    time.ticks_add = ticks_add  # type: ignore[attr-defined]
    time.ticks_diff = ticks_diff  # type: ignore[attr-defined]
    time.ticks_ms = ticks_ms  # type: ignore[attr-defined]
    if str(FIRMWARE) not in sys.path:
        sys.path.insert(0, str(FIRMWARE))
    return importlib.import_module(name)
