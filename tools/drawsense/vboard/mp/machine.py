# Strict fake of MicroPython's machine module on the virtual board. Each class
# and function has the signature the MicroPython docs give; unknown names are
# an AttributeError and bad arguments a TypeError/ValueError, as on a board.
import _vb
import board

IDLE = 1
SLEEP = 2
DEEPSLEEP = 4
PWRON_RESET = _vb.PWRON_RESET
WDT_RESET = _vb.WDT_RESET
if board.PORT != "rp2":  # rp2 knows only power-on and watchdog resets
    HARD_RESET = _vb.HARD_RESET
    DEEPSLEEP_RESET = _vb.DEEPSLEEP_RESET
    SOFT_RESET = _vb.SOFT_RESET

# GPIO count per chip (ESP32-C3: GPIO0-21; RP2040: GP0-29)
_MAX_PIN = {"esp32c3": 22, "rp2040": 30}.get(board.CHIP, 48)


class _Irq:
    def __init__(self, pid):
        self._pid = pid

    def trigger(self):
        return _vb.pin_state(self._pid)["trigger"]

    def flags(self):
        return 0


class Pin:
    IN = _vb.IN
    OUT = _vb.OUT
    OPEN_DRAIN = _vb.OPEN_DRAIN
    PULL_UP = _vb.PULL_UP
    PULL_DOWN = _vb.PULL_DOWN
    IRQ_RISING = _vb.IRQ_RISING
    IRQ_FALLING = _vb.IRQ_FALLING

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        if type(id) is str and board.PORT == "rp2" and id == "LED":
            pass
        elif type(id) is not int or not 0 <= id < _MAX_PIN:
            raise ValueError("invalid pin")
        self._id = id
        self.init(mode, pull, value=value, drive=drive, alt=alt)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, alt=None):
        st = _vb.pin_state(self._id)
        if mode != -1:
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
                raise ValueError("invalid pin mode")
            st["mode"] = mode
        if pull != -1:
            if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
                raise ValueError("invalid pull")
            st["pull"] = pull
        if value is not None:
            st["out"] = 1 if value else 0

    def value(self, x=None):
        # IRQ context: allocation-free for reads.
        if x is None:
            return _vb.pin_level(self._id)
        _vb.pin_state(self._id)["out"] = 1 if x else 0

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        if handler is not None and not callable(handler):
            raise TypeError("handler must be None or callable")
        if trigger & ~(Pin.IRQ_RISING | Pin.IRQ_FALLING):
            raise ValueError("invalid trigger")
        st = _vb.pin_state(self._id)
        st["handler"] = handler
        st["trigger"] = trigger if handler is not None else 0
        st["hard"] = bool(hard)
        st["obj"] = self
        st["wake"] = wake
        return _Irq(self._id)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3

    def __init__(self, pin, *, atten=None):
        pid = pin._id if isinstance(pin, Pin) else pin
        if type(pid) is not int:
            raise TypeError("ADC needs a Pin or a pin number")
        self._pid = pid

    def _uv(self):
        # Only the battery sense pin sees a voltage: the cell (sagging while
        # the radio draws) through the board's divider.
        if self._pid == board.BATTERY_ADC_PIN:
            return _vb.cell_mv() * 1000 * board.BATTERY_DIVIDER_DEN // board.BATTERY_DIVIDER_NUM
        return 0

    def atten(self, atten):
        if board.PORT != "esp32":
            raise AttributeError("'ADC' object has no attribute 'atten'")
        if atten not in (0, 1, 2, 3):
            raise ValueError("invalid attenuation")

    def read_u16(self):
        return min(65535, self._uv() * 65535 // 3300000)



def _read_uv(self):
    return self._uv()


if board.PORT in ("esp32", "virtual"):
    ADC.read_uv = _read_uv  # calibrated microvolts: esp32 only (and the idealised board)


class RTC:
    def __init__(self, id=0):
        pass

    def memory(self, data=None):
        if board.PORT != "esp32" and board.PORT != "virtual":
            raise AttributeError("'RTC' object has no attribute 'memory'")
        if data is None:
            return _vb.rtc_memory
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _vb.rtc_memory = bytes(data)


class WDT:
    def __init__(self, id=0, timeout=5000):
        if board.PORT == "rp2" and timeout > 8388:
            raise ValueError("timeout exceeds 8388")
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        _vb.wdt_start(timeout)

    def feed(self):
        _vb.wdt_feed()


def lightsleep(time_ms=None):
    _vb.lightsleep((_vb.end_us if time_ms is None else time_ms * 1000))


def deepsleep(time_ms=None):
    _vb.deepsleep(None if time_ms is None else time_ms * 1000)


def reset_cause():
    return _vb.reset_cause


def unique_id():
    return _vb.unique_id()


def reset():
    # rp2 resets through the watchdog
    raise _vb.Reset(_vb.WDT_RESET if board.PORT == "rp2" else _vb.HARD_RESET)


def soft_reset():
    raise _vb.Reset(_vb.SOFT_RESET)


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def freq(hz=None):
    if hz is None:
        return 160000000
