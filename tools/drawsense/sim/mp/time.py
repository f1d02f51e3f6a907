# Strict fake of MicroPython's time module on the virtual board: a virtual
# clock. Only what MicroPython's time has (extmod/modtime.c); anything else is
# an AttributeError. ticks_* and time_ns come from the board's clocks in _vb.
import _vb
import board

# zephyr: sleep and sleep_ms wait in k_poll, the CPU idle (_vb.sleep_idle);
# sleep_us is k_busy_wait (ports/zephyr/mphalport.h: mp_hal_delay_ms,
# mp_hal_delay_us). Elsewhere the CPU idles awake.
_sleep = _vb.sleep_idle if board.PORT == "zephyr" else _vb.sleep_awake

_HALF = (_vb.MASK + 1) >> 1


def _int(x, name):
    if type(x) is not int:
        raise TypeError("can't convert %s to int" % type(x).__name__)


def ticks_ms():
    return _vb.ticks_ms()


def ticks_us():
    return _vb.ticks_us_now() & _vb.MASK


def ticks_cpu():
    return ticks_us()


def ticks_diff(ticks1, ticks2):
    _int(ticks1, "ticks_diff")
    _int(ticks2, "ticks_diff")
    return ((ticks1 - ticks2 + _HALF) & _vb.MASK) - _HALF


def ticks_add(ticks, delta):
    # extmod/modtime.c time_ticks_add: OverflowError unless -2**29 < delta < 2**29
    _int(ticks, "ticks_add")
    _int(delta, "ticks_add")
    if delta >= _HALF or delta <= -_HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _vb.MASK


def sleep_ms(ms):
    _int(ms, "sleep_ms")
    if ms > 0:
        _sleep(ms * 1000)


def sleep_us(us):
    _int(us, "sleep_us")
    if us > 0:
        _vb.sleep_awake(us)


def sleep(seconds):
    if type(seconds) not in (int, float):
        raise TypeError("can't convert %s to float" % type(seconds).__name__)
    if seconds > 0:
        _sleep(int(seconds * 1000000))


def time_ns():
    # the RTC, from the port's epoch (_vb.rtc_us: 2000 on esp32, 1970 on rp2)
    return _vb.rtc_us() * 1000


def time():
    return time_ns() // 1000000000


# Calendar arithmetic as extmod/modtime.c and shared/timeutils/timeutils.c do
# it, from the port's epoch (no time zones: gmtime == localtime).
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _ydays(y):
    return 366 if _leap(y) else 365


def localtime(secs=None):
    if secs is None:
        secs = time()
    elif type(secs) is float:
        secs = int(secs)  # timeutils_obj_get_timestamp takes a float too
    else:
        _int(secs, "localtime")
    days, s = divmod(secs, 86400)
    y = _vb.EPOCH_YEAR
    wday = (days + (3 if y == 1970 else 5)) % 7  # 1970-01-01 a Thursday, 2000-01-01 a Saturday (Monday = 0)
    while days < 0:
        y -= 1
        days += _ydays(y)
    while days >= _ydays(y):
        days -= _ydays(y)
        y += 1
    yday = days + 1
    m = 0
    while True:
        n = _DAYS[m] + (1 if m == 1 and _leap(y) else 0)
        if days < n:
            break
        days -= n
        m += 1
    return (y, m + 1, days + 1, s // 3600, s // 60 % 60, s % 60, wday, yday)


gmtime = localtime


def mktime(t):
    if type(t) not in (tuple, list):  # mp_obj_get_array: any tuple or list
        raise TypeError("object '%s' isn't a tuple or list" % type(t).__name__)
    if len(t) != 8 and len(t) != 9:
        raise TypeError("mktime needs a tuple of length 8 or 9")
    y, mo, d, h, mi, s = t[0], t[1], t[2], t[3], t[4], t[5]
    # timeutils_mktime normalises months past 12 and negative days
    mo -= 1
    y += mo // 12
    mo %= 12
    days = d - 1
    for m in range(mo):
        days += _DAYS[m] + (1 if m == 1 and _leap(y) else 0)
    yy = _vb.EPOCH_YEAR
    while yy < y:
        days += _ydays(yy)
        yy += 1
    while yy > y:
        yy -= 1
        days -= _ydays(yy)
    return days * 86400 + h * 3600 + mi * 60 + s
