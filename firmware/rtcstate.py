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


class Record:
    """The fields of the record, times in RTC ms (NONE: nothing pending).
    The defaults are a device with nothing saved: holstered (detect.HOLSTERED),
    no draw, reminder or heartbeat pending, no secret."""

    def __init__(self, state=0, flags=0, ctr_next=0, ctr_limit=0, drawn_at=NONE, remind_at=NONE,
                 heartbeat_at=NONE, battery_mv=0, secret=None, device_id=None):
        self.state = state  # detect.HOLSTERED/DRAWN/FAULT
        self.flags = flags  # RUNNING | LOW | fault count (FAULTS)
        self.ctr_next = ctr_next  # counter.Counter's next and limit
        self.ctr_limit = ctr_limit
        self.drawn_at = drawn_at
        self.remind_at = remind_at
        self.heartbeat_at = heartbeat_at
        self.battery_mv = battery_mv  # at rest (battery.Battery.rest_mv)
        self.secret = secret  # advert.SECRET_LEN bytes, None: unprovisioned
        self.device_id = device_id  # 8 bytes or None

    def pack(self):
        """The bytes for RTC memory."""
        if not (0 <= self.ctr_next <= _LAST and 0 <= self.ctr_limit <= _LAST):
            # a 32-bit field would wrap a counter past its end back to 0: the
            # nonce of the first advert again. Never written; the caller's bug.
            raise ValueError("counter out of range")
        body = struct.pack(_FMT, _MAGIC, self.state, self.flags, self.ctr_next, self.ctr_limit, self.drawn_at,
                           self.remind_at, self.heartbeat_at, self.battery_mv, self.secret or bytes(32),
                           self.device_id or bytes(8))
        return body + _check(body)

    def faults(self):
        """Faults in a row since the device last ran clean."""
        return (self.flags & FAULTS) >> 2

    def set_faults(self, n):
        self.flags = (self.flags & ~FAULTS) | (min(n, 15) << 2)


def load(data):
    """The Record in `data` (RTC memory), or None if it holds no record, or
    a damaged one."""
    if len(data) != _SIZE + _CHECK or data[:4] != _MAGIC:
        return None
    body = data[:_SIZE]
    if _check(body) != data[_SIZE:]:
        return None
    f = struct.unpack(_FMT, body)
    state, flags, battery_mv = f[1], f[2], f[8]
    if state > 2 or flags > (RUNNING | LOW | FAULTS) or battery_mv > 10000:
        return None
    return Record(*f[1:])
