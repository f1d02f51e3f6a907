"""Talking to a board through unmodified mpremote (a real one on a serial
port, or `drawsense board serve` on a pty): one place that runs it, with
timeouts and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# mpremote's `reset` runs "time.sleep_ms(100); machine.reset()" on the board
# and returns at once (no-follow). The next mpremote to connect within those
# 100 ms would ^C the sleep and leave the old firmware stopped at the REPL, so
# reset() waits this long before it returns (the sleep, plus the reset itself
# and a USB-serial port coming back).
RESET_SETTLE_S = 0.6


class RemoteError(RuntimeError):
    """A one-line, user-facing failure talking to the board."""


def mpremote(port: str, *args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    """Run `mpremote connect PORT ARGS...` and return the finished process."""
    if not port:
        raise RemoteError("no port given: use --port /dev/ttyACM0 (or the pty that 'drawsense board serve' printed)")
    if not port.startswith(("/dev/", "COM", "socket:", "rfc2217:")) and not Path(port).exists():
        raise RemoteError(f"{port}: no such port (is the board plugged in? 'mpremote devs' lists them)")
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{port}: the board did not answer within {timeout:g} s (busy, or not MicroPython?)") \
            from None
    if check and p.returncode != 0:
        raise RemoteError(f"{port}: {_why(p)}")
    return p


def reset(port: str, *, timeout: float = 20.0) -> None:
    """Hard-reset the board (boot.py and main.py run again) and return once
    the reset has happened, so that the next command cannot cancel it."""
    mpremote(port, "reset", timeout=timeout)
    time.sleep(RESET_SETTLE_S)


def _why(p: subprocess.CompletedProcess) -> str:
    text = (p.stderr.strip() or p.stdout.strip()).splitlines()
    last = text[-1] if text else f"mpremote exited with status {p.returncode}"
    if "failed to access" in last:
        return "cannot open the port (wrong path, or in use by another program such as a serial console)"
    return last.removeprefix("mpremote: ")


def exec_(port: str, code: str, *, timeout: float = 60.0) -> str:
    """Run code on the board (mpremote interrupts what runs there first) and
    return what it printed."""
    return mpremote(port, "exec", code, timeout=timeout).stdout
