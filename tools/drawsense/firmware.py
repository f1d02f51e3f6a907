"""The firmware's own modules, read on the host.

Where the host must agree with the device (what a provisioned device's key and
counter files hold, how many counter bits make a burst's epoch), it imports the
firmware module that defines it instead of restating it. Only modules that are
plain Python apart from ``micropython.const`` load here (keyfile, counter);
they run under CPython with ``const`` as the identity, which is what it is to
the code that reads them.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import lru_cache

from drawsense import paths


@lru_cache(maxsize=None)
def module(name: str) -> types.ModuleType:
    """firmware/<name>.py, loaded once under CPython (as drawsense.firmware.<name>)."""
    path = paths.FIRMWARE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{__name__}.{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no firmware module {name!r} at {path}")
    mod = importlib.util.module_from_spec(spec)
    shim = "micropython" not in sys.modules
    if shim:
        mp = types.ModuleType("micropython")
        mp.const = lambda x: x  # type: ignore[attr-defined]
        sys.modules["micropython"] = mp
    try:
        spec.loader.exec_module(mod)
    finally:
        if shim:
            del sys.modules["micropython"]
    return mod
