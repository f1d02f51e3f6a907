"""`drawsense log --port`: the event log's bytes and the device's clock,
read with mpremote (device/mp/logdump.py after firmware/evlog.py's source:
the firmware's own segment listing), nothing written to the device.

mpremote interrupts the firmware to run this (as bench and provision do):
reset the board afterwards to put it back into service."""

from __future__ import annotations

import time

from drawsense.device import mpcode, remote
from drawsense.device.remote import RemoteError

_CLOCK = ("import time\ntry:\n    import board\n    n = board.NAME\nexcept ImportError:\n    n = '-'\n"
          "print('DSCLOCK', time.time_ns() // 1000000, n)\n")


def read_clock(port: str) -> tuple[int, float, float, str]:
    """(device RTC ms, this computer's unix time at it, +- seconds, board name
    or '-'): the midpoint and half-width of the exec that printed it."""
    t0 = time.time()
    out = remote.exec_(port, _CLOCK, timeout=30)
    t1 = time.time()
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "DSCLOCK":
            return int(w[1]), (t0 + t1) / 2, (t1 - t0) / 2, w[2]
    raise RemoteError(f"{port}: unexpected answer reading the clock: {out.strip()[-200:]!r}")


def last_seq(port: str) -> int:
    """The seq of the newest record in the device's log, -1 if it has none."""
    out = remote.exec_(port, mpcode.program("logdump", "last", before=("evlog",)), timeout=60)
    for line in out.splitlines():
        w = line.split()
        if len(w) == 2 and w[0] == "DSLAST":
            return int(w[1])
    raise RemoteError(f"{port}: unexpected answer reading the log: {out.strip()[-200:]!r}")


def read_log(port: str) -> bytes:
    """The log's segment files, oldest first, concatenated as they are."""
    out = remote.exec_(port, mpcode.program("logdump", "dump", before=("evlog",)), timeout=600)
    parts: list[bytes] = []
    want, got, ended = {}, {}, None
    cur = None
    for line in out.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "DSSEG" and len(w) == 3:
            cur = int(w[1])
            want[cur] = int(w[2])
            got[cur] = []
        elif w[0] == "DSHEX" and cur is not None:
            got[cur].append(bytes.fromhex(w[1] if len(w) > 1 else ""))
        elif w[0] == "DSEND":
            ended = int(w[1])
    if ended is None:
        raise RemoteError(f"{port}: the log dump did not finish: {out.strip()[-200:]!r}")
    for n in sorted(got):
        data = b"".join(got[n])
        if len(data) != want[n]:
            raise RemoteError(f"{port}: segment {n} came back {len(data)} bytes, not {want[n]}: read it again")
        parts.append(data)
    return b"".join(parts)
