"""The code the host runs on a board with `mpremote exec`.

It lives in real MicroPython modules in device/mp/ (compiled with mpy-cross
by tests/device/test_device_code.py), not in strings here. The host sends a
module's source and then one call line that passes the parameters as
literals; nothing is formatted into the code, and nothing is installed on
the board (each exec defines the module's functions in the REPL's globals
and calls one). Code that checks a firmware file format goes after that
firmware module's own source (``before=``), so it reads the file with the
firmware's reader even on a board the firmware is not on yet.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from drawsense import firmware

MP = Path(__file__).resolve().parent / "mp"


@lru_cache(maxsize=None)
def source(name: str) -> str:
    """device/mp/<name>.py as text."""
    return (MP / f"{name}.py").read_text()


def literal(value: object) -> str:
    """A Python literal MicroPython reads back as `value` (str, int, bool,
    None, or a list/tuple of those)."""
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, str) and value.isascii():
        return repr(value)
    raise TypeError(f"no MicroPython literal for {value!r}")


def program(module: str, call: str, *args: object, before: tuple[str, ...] = ()) -> str:
    """Firmware modules `before`, device/mp/<module>.py, then `call(*args)`."""
    parts = [firmware.source(name) for name in before] + [source(module)]
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    return text + f"{call}({', '.join(literal(a) for a in args)})\n"
