# What survives deep sleep: a fixed record in RTC memory (2 KB on esp32),
# so the wake path needs no filesystem before its first advert. RTC memory
# keeps what it held through resets and brownouts (RTC_NOINIT_ATTR,
# ports/esp32/machine_rtc.c), including whatever a crash half-wrote, so the
# record carries a check value and its fields are range-checked: a damaged
# record is refused, and the device boots from flash as after power-on.
import hashlib
import struct

from micropython import const

_MAGIC = b"DSR2"
# magic, state, flags, counter next, counter limit, draw (rtc ms), next
# reminder (rtc ms), next heartbeat (rtc ms), battery mV, secret, device id;
# then the first 4 bytes of SHA-256 over all of that
_FMT = "<4sBBIIqqqH32s8s"
_SIZE = const(80)  # struct.calcsize(_FMT)
_CHECK = const(4)
RUNNING = const(1)  # set while the firmware runs: a "power-on" that finds it was a brownout
LOW = const(2)  # battery-low latch
FAULTS = const(0x3C)  # bits 2-5: faults in a row since the device last ran clean (app.main backs off)
FAULT_ONE = const(4)
NONE = const(-1)  # no draw / no reminder pending
_LAST = const(0xFFFFFFFF)  # the counter's last value (counter.LAST): never past it


def _check(body):
    return hashlib.sha256(body).digest()[:_CHECK]


def pack(state, flags, ctr_next, ctr_limit, drawn_at, remind_at, heartbeat_at, battery_mv, secret, device_id):
    if not (0 <= ctr_next <= _LAST and 0 <= ctr_limit <= _LAST):
        # a 32-bit field would wrap a counter past its end back to 0: the
        # nonce of the first advert again. Never written; the caller's bug.
        raise ValueError("counter out of range")
    body = struct.pack(_FMT, _MAGIC, state, flags, ctr_next, ctr_limit, drawn_at, remind_at, heartbeat_at,
                       battery_mv, secret or bytes(32), device_id or bytes(8))
    return body + _check(body)


def faults(rec):
    """Faults in a row recorded in `rec` (an unpack() tuple, or None)."""
    return (rec[1] & FAULTS) >> 2 if rec else 0


def with_faults(rec, n):
    """The packed record `rec` with its fault count set to n (0-15)."""
    rec = list(rec)
    rec[1] = (rec[1] & ~FAULTS) | (min(n, 15) << 2)
    return pack(*rec)


def unpack(data):
    """The saved tuple (without the magic), or None if RTC memory holds no
    record, or a damaged one."""
    if len(data) != _SIZE + _CHECK or data[:4] != _MAGIC:
        return None
    body = data[:_SIZE]
    if _check(body) != data[_SIZE:]:
        return None
    rec = struct.unpack(_FMT, body)[1:]
    state, flags, battery_mv = rec[0], rec[1], rec[7]
    if state > 2 or flags > (RUNNING | LOW | FAULTS) or battery_mv > 10000:
        return None
    return rec
