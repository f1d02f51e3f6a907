# Strict fake of MicroPython's machine module on the virtual board. Every
# function and method checks its arguments against the port contract
# (_vb.bind: tools/drawsense/sim/ports/<port>.toml, read from the port's C
# source), so a call the port rejects raises here too; unknown names are an
# AttributeError, as on a board.
import _vb
import board


def _c(name):
    return _vb.contract[name][5] if _vb.has(name) else None


# The port's module constants, only those it has (rp2 has no HARD_RESET,
# SOFT_RESET or DEEPSLEEP_RESET: ports/rp2/modmachine.c).
for _n in ("IDLE", "SLEEP", "DEEPSLEEP", "PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET",
           "SOFT_RESET", "PIN_WAKE", "TIMER_WAKE"):
    if _vb.has("machine." + _n):
        globals()[_n] = _vb.contract["machine." + _n][5]

# The GPIOs that are Pins: ESP32-C3 GPIO0-13, 20, 21 (14-17 are the SPI
# flash's, 18-19 the USB-Serial-JTAG's: ports/esp32/machine_pin.h);
# RP2040 GP0-29.
_PINS = {"esp32c3": tuple(range(14)) + (20, 21), "rp2040": tuple(range(30))}.get(board.CHIP, tuple(range(48)))
_ZEPHYR = board.PORT == "zephyr"
# zephyr: the GPIO devices zephyr_device_find knows on the nRF52840, by
# devicetree full name and by node label (CONFIG_DEVICE_DT_METADATA=y): P0
# and P1 (ports/zephyr/zephyr_device.c).
_ZDEV = {"gpio0": "gpio0", "gpio@50000000": "gpio0", "gpio1": "gpio1", "gpio@50000300": "gpio1"}


def _zephyr_id(id, what, msg):
    """A zephyr (device, n) id as mp_pin_make_new / mp_machine_adc_make_new
    take it, checked as the C checks it; the device by its node label."""
    if type(id) is not tuple:
        raise ValueError(msg)
    if len(id) != 2:
        raise ValueError("requested length 2 but object has length %d" % len(id))  # mp_obj_get_array_fixed_n
    name, n = id
    if type(name) is bytes:
        name = name.decode()
    if type(name) is not str:
        raise TypeError("can't convert '%s' object to str implicitly" % type(name).__name__)
    devs = _ZDEV if what == "pin" else {"adc": "adc", "adc@40007000": "adc"}
    if name not in devs:
        raise ValueError("device %s not found" % name)
    if type(n) is not int:
        raise TypeError("can't convert %s to int" % type(n).__name__)
    return (devs[name], n)


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

    def __init__(self, *a, **kw):
        b = _vb.bind("machine.Pin", a, kw)
        id = b["id"]
        if _ZEPHYR:
            # ports/zephyr/machine_pin.c mp_pin_make_new: a Pin or a
            # (device, n) tuple; n is not range-checked. Any other argument
            # needs mode (machine_pin_obj_init_helper: mode REQUIRED).
            self._id = id._id if isinstance(id, Pin) else _zephyr_id(
                id, "pin", 'Pin id must be tuple of ("GPIO_x", pin#)')
            b.pop("id")
            if b and "mode" not in b:
                raise TypeError("'mode' argument required")
            if b:
                self._init(b)
            return
        if type(id) is str and board.PORT == "rp2" and id == "LED":
            pass
        elif type(id) is not int or id not in _PINS:
            raise ValueError("invalid pin")
        self._id = id
        b.pop("id")
        self._init(b)

    def init(self, *a, **kw):
        self._init(_vb.bind("machine.Pin.init", a, kw))

    def _init(self, b):
        st = _vb.pin_state(self._id)
        mode = b.get("mode")
        if _ZEPHYR:
            # gpio_pin_configure(mode | pull | init): mode an int, pull
            # applied every time (None or absent: no pull)
            if type(mode) is not int:
                raise TypeError("can't convert %s to int" % type(mode).__name__)
            pull = b.get("pull")
            if pull is not None and type(pull) is not int:
                raise TypeError("can't convert %s to int" % type(pull).__name__)
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN) or pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
                raise ValueError("invalid pin")  # gpio_pin_configure fails
            st["mode"] = mode
            st["pull"] = pull
            if b.get("value") is not None:
                st["out"] = 1 if b["value"] else 0
            return
        if mode is not None and mode != -1:
            if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
                raise ValueError("invalid pin mode")
            st["mode"] = mode
        if "pull" in b and b["pull"] != -1:
            pull = b["pull"]
            if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
                raise ValueError("invalid pull")
            st["pull"] = pull
        if b.get("value") is not None:
            st["out"] = 1 if b["value"] else 0

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

    def irq(self, *a, **kw):
        b = _vb.bind("machine.Pin.irq", a, kw)
        st = _vb.pin_state(self._id)
        if not b:
            return _Irq(self._id)  # no arguments: only the irq object
        handler = b.get("handler")
        trigger = b.get("trigger", Pin.IRQ_RISING | Pin.IRQ_FALLING)
        if handler is not None and not callable(handler):
            raise TypeError("handler must be None or callable")
        if type(trigger) is not int:
            raise TypeError("can't convert %s to int" % type(trigger).__name__)
        if trigger & ~(Pin.IRQ_RISING | Pin.IRQ_FALLING):
            raise ValueError("invalid trigger")
        st["handler"] = handler
        st["trigger"] = trigger if handler is not None else 0
        # esp32: every pin IRQ is soft (no `hard` argument at all); rp2: hard
        # only when asked (rp2/machine_pin.c, hard defaults to False)
        st["hard"] = bool(b.get("hard", False))
        st["obj"] = self
        st["wake"] = b.get("wake")
        # esp32 machine_pin_irq: gpio_set_intr_type(index, trigger) puts back
        # the edge type a light sleep's gpio_wakeup_enable left as a level
        st["level_trig"] = None
        return _Irq(self._id)


class ADC:

    def __init__(self, *a, **kw):
        b = _vb.bind("machine.ADC", a, kw)
        if _ZEPHYR:
            # ports/zephyr/machine_adc.c mp_machine_adc_make_new: an ADC or an
            # (adc device, channel) tuple; the channel must be one the board's
            # devicetree lists under zephyr,user io-channels (here: the
            # battery's, board.BATTERY_ADC_PIN, the SAADC VDD input).
            id = a[0]
            if isinstance(id, ADC):
                self._pid = id._pid
                return
            msg = "ADC must be initialized with a tuple of (adcblock, channel) or an ADC object"
            cid = _zephyr_id(id, "adc", msg)
            if cid != tuple(board.BATTERY_ADC_PIN):
                raise ValueError("ADC channel (%s, %d) not found" % cid)
            self._pid = cid
            return
        pin = b["pin"] if "pin" in b else b.get("id")
        pid = pin._id if isinstance(pin, Pin) else pin
        if type(pid) is not int:
            raise TypeError("ADC needs a Pin or a pin number")
        if board.PORT == "rp2" and pid < 4:
            pid += 26  # rp2: ADC(0..3) are channels on GP26..29
        if board.CHIP == "esp32c3" and not 0 <= pid <= 5:
            raise ValueError("invalid pin")  # C3: ADC1 on GPIO0-4, ADC2 on GPIO5
        if board.PORT == "rp2" and not 26 <= pid <= 29:
            raise ValueError("Pin doesn't have ADC capabilities")
        self._pid = pid

    def _uv(self):
        # Only the battery sense pin sees a voltage: the cell (sagging while
        # the radio draws) through the board's divider. Pico W: GP29 is also
        # the CYW43's SPI clock (micropython#10406); once the radio is up it
        # reads ~0 V.
        if _ZEPHYR:
            # SAADC VDD input, gain 1/6 against 0.6 V: the cell itself, no
            # divider; adc_raw_to_millivolts_dt gives whole mV
            return _vb.cell_mv() * 1000
        vsys = getattr(board, "VSYS_SENSE_PIN", -1)
        if self._pid == vsys:
            return 12000 if _vb.radio_used else _vb.cell_mv() * 1000 // 3
        if self._pid == board.BATTERY_ADC_PIN:
            return _vb.cell_mv() * 1000 * board.BATTERY_DIVIDER_DEN // board.BATTERY_DIVIDER_NUM
        return 0

    def atten(self, *a, **kw):
        b = _vb.bind("machine.ADC.atten", a, kw)
        if b["atten"] not in (0, 1, 2, 3):
            raise ValueError("invalid attenuation")

    def read_u16(self, *a, **kw):
        _vb.bind("machine.ADC.read_u16", a, kw)
        if _ZEPHYR:
            return min(65535, self._uv() * 65535 // 3600000)  # 0-3.6 V full scale
        return min(65535, self._uv() * 65535 // 3300000)

    def read_uv(self, *a, **kw):
        _vb.bind("machine.ADC.read_uv", a, kw)
        if not _vb.adc_calibrated and not _ZEPHYR:
            # ports/esp32/adc.c madcblock_read_uv_helper: no eFuse calibration
            # scheme -> check_esp_err raises
            # (ESP_ERR_NOT_SUPPORTED, which check_esp_err_ maps to EOPNOTSUPP)
            raise OSError(95)
        return self._uv()


for _n in ("ATTN_0DB", "ATTN_2_5DB", "ATTN_6DB", "ATTN_11DB", "CORE_TEMP"):
    if _vb.has("machine.ADC." + _n):  # rp2 has no ATTN_* (ports/rp2/machine_adc.c)
        setattr(ADC, _n, _vb.contract["machine.ADC." + _n][5])


class RTC:
    def __init__(self, *a, **kw):
        _vb.bind("machine.RTC", a, kw)

    def memory(self, *a, **kw):
        b = _vb.bind("machine.RTC.memory", a, kw)
        if "data" not in b and not a:
            return _vb.rtc_memory
        data = a[0] if a else b["data"]
        if len(data) > 2048:
            raise ValueError("buffer too long")
        _vb.rtc_memory = bytes(data)

    def datetime(self, *a, **kw):
        _vb.bind("machine.RTC.datetime", a, kw)
        import time

        if not a or a[0] is None:
            y, mo, d, h, mi, s, wd, _ = time.localtime()
            us = _vb.rtc_us() % 1000000
            return (y, mo, d, wd, h, mi, s, us)
        t = a[0]
        if len(t) != 8:
            raise ValueError("requested length 8 but object has length %d" % len(t))
        secs = time.mktime((t[0], t[1], t[2], t[4], t[5], t[6], 0, 0))
        _vb.set_rtc_us(secs * 1000000 + t[7])


class WDT:
    def __init__(self, *a, **kw):
        b = _vb.bind("machine.WDT", a, kw)
        timeout = b.get("timeout", 5000)
        if board.PORT == "rp2" and timeout > 8388:
            raise ValueError("timeout exceeds 8388")
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        _vb.wdt_start(timeout)

    def feed(self):
        _vb.wdt_feed()


def _sleep_ms(name, a, kw):
    b = _vb.bind(name, a, kw)
    ms = a[0] if a else None
    if ms is not None and type(ms) is not int:
        raise TypeError("can't convert %s to int" % type(ms).__name__)
    if board.PORT == "rp2" and ms is not None and ms > 4294967:
        # ports/rp2/modmachine.c mp_machine_lightsleep: the delay is in us, 32 bits
        raise ValueError("sleep too long")
    return b, ms


def lightsleep(*a, **kw):
    _, ms = _sleep_ms("machine.lightsleep", a, kw)
    _vb.lightsleep(_vb.end_us if ms is None else ms * 1000)


def deepsleep(*a, **kw):
    _, ms = _sleep_ms("machine.deepsleep", a, kw)
    if board.CHIP == "esp32c3" and _vb.deep_wake is not None and any(p > 5 for p in _vb.deep_wake[0]):
        # machine_sleep_helper: esp_deep_sleep_enable_gpio_wakeup fails for
        # pins outside the C3's RTC domain (GPIO0-5)
        raise ValueError("wake-up pin not supported")
    _vb.deepsleep(None if ms is None else ms * 1000)


def reset_cause(*a, **kw):
    _vb.bind("machine.reset_cause", a, kw)
    if _ZEPHYR:
        # ports/zephyr/modmachine.c machine_reset_cause: printf a warning on
        # MicroPython's stdout, then 42, whatever the cause
        print("Warning: machine_reset_cause is not implemented")
        return _vb.contract["machine.reset_cause"][5]  # 42
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


def freq(*a, **kw):
    _vb.bind("machine.freq", a, kw)
    if not a:
        return 160000000 if board.PORT == "esp32" else 125000000


# Names the port does not have are not there at all (hasattr is False), as
# on a board: zephyr has no lightsleep, deepsleep, RTC or unique_id, and its
# ADC no atten (the contract's "absent" entries).
for _n in list(globals()):
    if _n[0] != "_" and ("machine." + _n) in _vb.contract and not _vb.has("machine." + _n):
        del globals()[_n]
if _ZEPHYR:
    for _n in ("atten",):
        if not _vb.has("machine.ADC." + _n):
            delattr(ADC, _n)
