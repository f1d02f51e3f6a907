"""What every verb shares: the options that mean the same everywhere (--keys,
--port) and the error for a simulation that failed. The one-line messages
themselves are drawsense.console's (fail, warn, note)."""

from __future__ import annotations

import sys
from pathlib import Path

from drawsense.console import fail
from drawsense.keystore import KeyStore, default_path


def simulation_failed(e: Exception, hint: str) -> int:
    """The one-line error for a simulation that crashed (its traceback first)
    or ran out of wall time; `hint` says what to shorten."""
    import subprocess

    if isinstance(e, subprocess.TimeoutExpired):
        return fail(f"the simulation did not finish within {e.timeout:g} s of wall time ({hint})", 1)
    print(getattr(e, "detail", ""), file=sys.stderr)  # vboard.FirmwareCrash: the firmware's traceback
    return fail(str(e), 1)


def port_option(p) -> None:
    """--port, the board's serial port, with the same help on every verb that needs one."""
    p.add_argument("--port", help="the board's serial port, e.g. /dev/ttyACM0 (or the pty 'drawsense board serve' "
                                  "printed)")


def keys_option(p, *, help: str | None = None, **kw) -> None:
    """--keys FILE, the key store, with the same help on every verb."""
    p.add_argument("--keys", metavar="FILE", type=Path, help=help or f"key store (default: {default_path()})", **kw)


def open_store(path: Path | None, *, create: bool) -> KeyStore:
    return KeyStore(path or default_path(), create=create)
