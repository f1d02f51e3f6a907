"""What every verb shares: the one-line error and its exit status, and the
key-store path option.

A verb that cannot do what was asked says so in one line on stderr, prefixed
with the command that said it ("drawsense: ...", "drawsense deploy: ..."),
and exits non-zero: 2 when nothing was done (bad input, a missing file, a
refusal), 1 when it failed part-way or a check failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from drawsense.keystore import KeyStore, default_path


def fail(msg: str, code: int = 2, *, prog: str = "drawsense") -> int:
    """Say what is wrong in one line on stderr; return the exit status."""
    print(f"{prog}: {msg}", file=sys.stderr)
    return code


def warn(msg: str) -> None:
    print(f"drawsense: warning: {msg}", file=sys.stderr)


def note(msg: str) -> None:
    """A line for the person at the terminal (progress, where a file went), on stderr."""
    print(msg, file=sys.stderr, flush=True)


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
