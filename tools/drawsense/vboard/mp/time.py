# Strict fake of MicroPython's time module on the virtual board: a virtual
# clock. Only what MicroPython's time has; anything else is an AttributeError.
import _vb

_HALF = (_vb.MASK + 1) >> 1


def _int(x, name):
    if type(x) is not int:
        raise TypeError("%s: can't convert %s to int" % (name, type(x).__name__))


def ticks_ms():
    return (_vb.now_us // 1000 + _vb.tick_off_ms) & 0x3FFFFFFF


def ticks_us():
    return (_vb.now_us + _vb.tick_off_ms * 1000) & 0x3FFFFFFF


def ticks_cpu():
    return ticks_us()


def ticks_diff(ticks1, ticks2):
    _int(ticks1, "ticks_diff")
    _int(ticks2, "ticks_diff")
    return ((ticks1 - ticks2 + _HALF) & 0x3FFFFFFF) - _HALF


def ticks_add(ticks, delta):
    _int(ticks, "ticks_add")
    _int(delta, "ticks_add")
    if delta >= _HALF or delta < -_HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & 0x3FFFFFFF


def sleep_ms(ms):
    _int(ms, "sleep_ms")
    if ms > 0:
        _vb.sleep_awake(ms * 1000)


def sleep_us(us):
    _int(us, "sleep_us")
    if us > 0:
        _vb.sleep_awake(us)


def sleep(seconds):
    if seconds > 0:
        _vb.sleep_awake(int(seconds * 1000000))


def time():
    # Seconds since the MicroPython epoch (2000-01-01), from a fixed start.
    return 817776000 + _vb.now_us // 1000000


def time_ns():
    return (817776000 * 1000000 + _vb.now_us) * 1000
