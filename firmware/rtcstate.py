# What survives deep sleep: a fixed record in RTC memory (2 KB on esp32),
# so the wake path needs no filesystem before its first advert.
import struct

from micropython import const

_MAGIC = b"DSR1"
# magic, state, flags, counter next, counter limit, draw (rtc ms), next
# reminder (rtc ms), next heartbeat (rtc ms), battery mV, secret, device id
_FMT = "<4sBBIIqqqH32s8s"
RUNNING = const(1)  # set while the firmware runs: a "power-on" that finds it was a brownout
LOW = const(2)  # battery-low latch
NONE = const(-1)  # no draw / no reminder pending


def pack(state, flags, ctr_next, ctr_limit, drawn_at, remind_at, heartbeat_at, battery_mv, secret, device_id):
    return struct.pack(_FMT, _MAGIC, state, flags, ctr_next, ctr_limit, drawn_at, remind_at, heartbeat_at,
                       battery_mv, secret or bytes(32), device_id or bytes(8))


def unpack(data):
    """The saved tuple (without the magic), or None if RTC memory holds no record."""
    if len(data) != struct.calcsize(_FMT) or data[:4] != _MAGIC:
        return None
    return struct.unpack(_FMT, data)[1:]
