# Strict fake of MicroPython's esp32 module: only on esp32-port boards.
import _vb
import board

if board.PORT != "esp32":
    raise ImportError("no module named 'esp32'")

WAKEUP_ALL_LOW = 0
WAKEUP_ANY_HIGH = 1


def _pid(p):
    return p._id if hasattr(p, "_id") else p


def wake_on_ext0(pin, level):
    if board.CHIP == "esp32c3":
        raise ValueError("ext0 wake not supported on ESP32-C3")
    _vb.deep_wake = None if pin is None else ((_pid(pin),), level)


def wake_on_ext1(pins, level):
    if board.CHIP == "esp32c3":
        raise ValueError("ext1 wake not supported on ESP32-C3")
    _vb.deep_wake = None if pins is None else (tuple(_pid(p) for p in pins), level)


def wake_on_gpio(pins, level):
    ids = tuple(_pid(p) for p in pins)
    if board.CHIP == "esp32c3" and any(not 0 <= i <= 5 for i in ids):
        raise ValueError("wake_on_gpio: only GPIO0-5 on ESP32-C3")
    _vb.deep_wake = (ids, level)
