"""The firmware's own modules, read on the host.

Where the host must agree with the device on something only the device
defines (what a provisioned device's key and counter files hold, its timing
defaults), it imports the firmware module that defines it instead of
restating it. (The advert format is the spec's, docs/protocol.md, and the
host implements it on its own in protocol.py, so the two check each other.)
Only modules that are plain Python apart from ``micropython.const`` load here
(keyfile, counter, config);
they run under CPython with ``const`` as the identity, which is what it is to
the code that reads them.

The two files provisioning puts on a device, made by the firmware's own code:

* ``KEY_FILE`` / ``key_file(secret, device_id, log_key)``: firmware/keyfile.py's PATH
  and ``pack()`` (``load()`` reads it back).
* ``CTR_FILE`` / ``counter_file(mark)``: firmware/counter.py's PATH and the
  bytes ``counter.FileStore(path).write(mark)`` leaves in the file.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import types
from functools import lru_cache
from pathlib import Path

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


@lru_cache(maxsize=None)
def source(name: str) -> str:
    """firmware/<name>.py as text (to send to a device ahead of code that uses it)."""
    return (paths.FIRMWARE / f"{name}.py").read_text()


KEY_FILE: str = module("keyfile").PATH
CTR_FILE: str = module("counter").PATH


def key_file(secret: bytes, device_id: bytes, log_key: bytes | None = None) -> bytes:
    """The key file for this identity (keyfile.pack); ValueError on a secret
    that is not 32 bytes, an id that is not 8 or a log key that is not 16.
    Without a log key: the DSK1 file of a device that keeps no event log."""
    return bytes(module("keyfile").pack(secret, device_id, log_key))


def counter_file(mark: int) -> bytes:
    """The counter file holding `mark` (0..0xFFFFFFFF), as the firmware's
    FileStore writes it: written by that code into a scratch folder and read back."""
    if not 0 <= mark <= 0xFFFFFFFF:
        raise ValueError(f"counter mark {mark} is not a 32-bit value")
    with tempfile.TemporaryDirectory(prefix="drawsense-ctr-") as tmp:
        path = Path(tmp) / CTR_FILE
        module("counter").FileStore(str(path)).write(mark)
        return path.read_bytes()
