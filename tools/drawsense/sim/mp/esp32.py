# Strict fake of MicroPython's esp32 module (ports/esp32/modesp32.c): only on
# esp32-port boards, and only what the chip's SOC capabilities compile in
# (the port contract says which; on the C3 there is no ext0/ext1 wake).
import _vb
import board

if board.PORT != "esp32":
    raise ImportError("no module named 'esp32'")


def _k(name):
    return _vb.contract[name][5]


WAKEUP_ALL_LOW = _k("esp32.WAKEUP_ALL_LOW")
WAKEUP_ANY_HIGH = _k("esp32.WAKEUP_ANY_HIGH")


def _pid(p):
    if hasattr(p, "_id"):
        return p._id
    if type(p) is int:
        return p
    raise TypeError("expecting a pin")


def wake_on_ext0(*a, **kw):
    b = _vb.bind("esp32.wake_on_ext0", a, kw)
    pin = b.get("pin")
    _vb.deep_wake = None if pin is None else ((_pid(pin),), bool(b.get("level", 0)))


def wake_on_ext1(*a, **kw):
    b = _vb.bind("esp32.wake_on_ext1", a, kw)
    pins = b.get("pins")
    _vb.deep_wake = None if pins is None else (tuple(_pid(p) for p in pins), bool(b.get("level", 0)))


def wake_on_gpio(*a, **kw):
    # modesp32.c esp32_wake_on_gpio: pins=None keeps the pins, level keeps
    # the last level; pins are checked only when a sleep starts
    # (machine_sleep_helper: "wake-up pin not supported" for deep sleep).
    b = _vb.bind("esp32.wake_on_gpio", a, kw)
    pins, level = (), False
    if _vb.deep_wake is not None:
        pins, level = _vb.deep_wake
    if b.get("pins") is not None:
        pins = tuple(_pid(p) for p in b["pins"])
    if "level" in b:
        level = bool(b["level"])
    _vb.deep_wake = (pins, level) if pins else None
