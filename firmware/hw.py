# The one module that touches hardware: sensor pin, radio, ADC, RTC memory,
# sleep, console. Everything else receives a Hardware object (or plain
# values) as arguments.
import time

import random

import bluetooth
import machine
from micropython import const

_PULLS = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN, "none": None}


class Hardware:
    """Owns the board's pin, BLE radio, ADC and sleep. Built in main(), never at import."""

    def __init__(self, board):
        self.board = board
        self._holstered = board.HOLSTERED_LEVEL
        # The stubs type pull as int, but None is the documented "no pull".
        pull = _PULLS[board.SENSOR_PULL]
        self.pin = machine.Pin(board.SENSOR_PIN, machine.Pin.IN, pull)  # type: ignore[arg-type]
        self.interval_us = board.ADV_MIN_INTERVAL_US
        self.ble = bluetooth.BLE()
        self.radio_on = False
        # Deep sleep where the port can wake on the sensor pin and keeps RTC
        # memory (esp32); elsewhere light sleep with the pin IRQ.
        self.deep = board.WAKE == "gpio"
        # The watchdog, where the port's sleep lets one run (board.WDT_MS, 0:
        # none): the loop feeds it once a pass, and hw.sleep never sleeps
        # past half its timeout (rp2's keeps counting through lightsleep).
        # Started first, so a hang anywhere after this resets the chip.
        self._wdt = machine.WDT(timeout=board.WDT_MS) if board.WDT_MS else None
        global _wdt_board, _wdt
        _wdt_board = board if self._wdt is not None else None
        _wdt = self._wdt
        self._adc = None
        if board.BATTERY_ADC_PIN >= 0:  # -1: the board has no battery sense
            self._adc = machine.ADC(machine.Pin(board.BATTERY_ADC_PIN))
            if board.PORT == "esp32":
                self._adc.atten(machine.ADC.ATTN_11DB)

    # -- time -------------------------------------------------------------
    def now(self):
        return time.ticks_ms()

    def rtc_ms(self):
        # MicroPython's own time.time_ns() (docs/library/time.rst; added in
        # micropython commit d4b61b0 "extmod/utime_mphal: Add generic
        # utime.time_ns()", esp32 among the ports; the esp32 and rp2 stubs the
        # suite type-checks against have it), not CPython's: the RTC keeps
        # counting through deep sleep, which ticks_ms does not on esp32.
        return time.time_ns() // 1000000

    # -- sensor -----------------------------------------------------------
    def is_out(self, level):
        """Line level (0/1) -> True when the sensor reads "out" (drawn)."""
        return level != self._holstered

    def out(self):
        return self.pin.value() != self._holstered

    def arm(self, handler):
        # Both edges; the handler only timestamps (edges.py). esp32's Pin.irq
        # has no `hard` argument (ports/esp32/machine_pin.c machine_pin_irq:
        # handler, trigger, wake) and every esp32 pin IRQ is soft: queued on
        # the scheduler, run at the next bytecode boundary. Elsewhere (rp2,
        # zephyr, the virtual board) ask for a hard IRQ.
        trigger = machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING
        if self.board.PORT == "esp32":
            self.pin.irq(handler=handler, trigger=trigger)
        else:
            self.pin.irq(handler=handler, trigger=trigger, hard=True)

    def disarm(self):
        self.pin.irq(handler=None)

    # -- battery ----------------------------------------------------------
    def battery_mv(self):
        """The cell's voltage through the board's divider; 0 if unknown (not
        wired, or an esp32 without ADC calibration)."""
        adc = self._adc
        if adc is None:
            return 0
        b = self.board
        if b.PORT != "rp2":  # rp2's ADC has no read_uv (ports/rp2/machine_adc.c)
            try:
                # esp32: calibrated from eFuse data. The rp2 stubs type-check
                # this line too, and rightly find no read_uv there.
                uv = adc.read_uv()  # type: ignore[attr-defined, unused-ignore]
            except OSError:
                # ports/esp32/adc.c: no calibration scheme on this chip. Say
                # so once and report "unknown" rather than a wrong voltage.
                self._adc = None
                self.report("battery", "uncalibrated")
                return 0
        else:
            uv = adc.read_u16() * 3300000 // 65535
        return uv * b.BATTERY_DIVIDER_NUM // b.BATTERY_DIVIDER_DEN // 1000

    # -- radio ------------------------------------------------------------
    def radio_up(self):
        # Brings the controller up (~100s of ms): once per boot, after the
        # pin IRQ is armed, so the sensor is watched meanwhile.
        self.ble.active(True)

    def new_address(self):
        # A fresh random address for each burst, so a scanner cannot follow
        # the device from burst to burst. On NimBLE (esp32) every
        # addr_mode=1 call makes a new random static address; btstack (Pico
        # W) keeps one per power cycle (docs/protocol.md, privacy).
        if self.radio_on:
            self.quiet()
        self.ble.config(addr_mode=1)

    def advertise(self, data):
        # connectable=False: nothing can connect to the sensor. On NimBLE and
        # btstack this is ADV_SCAN_IND (shared/REFERENCE.md).
        self.ble.gap_advertise(self.interval_us, data, connectable=False)
        self.radio_on = True

    def quiet(self):
        # interval_us=None stops advertising (MicroPython docs); the stubs
        # only allow int there.
        self.ble.gap_advertise(None)  # type: ignore[arg-type]
        self.radio_on = False

    # -- resets, RTC memory, sleep ----------------------------------------
    def reset_cause(self):
        return machine.reset_cause()

    def reset_cause_name(self):
        return reset_cause_name()

    def woke_from_deep_sleep(self):
        # rp2 has no DEEPSLEEP_RESET (its deepsleep is a reset through the watchdog)
        return machine.reset_cause() == getattr(machine, "DEEPSLEEP_RESET", -1)

    def power_on_reset(self):
        # A brownout also reports PWRON_RESET (shared/REFERENCE.md).
        return machine.reset_cause() == machine.PWRON_RESET

    def load_rtc(self):
        """RTC memory (survives deep sleep, resets and brownouts, not power
        loss), or b"" on ports without it (rp2)."""
        return rtc_load()

    def save_rtc(self, data):
        rtc_save(data)

    def sleep(self, ms, log):
        """Wait up to ms, or less once the sensor moves (log.count changes).
        Radio off: light sleep. On rp2 and the virtual board the pin IRQ ends
        it. On esp32 the chip light-sleeps on its timer alone, SENSOR_POLL_MS
        at a time, and the caller reads the pin after each nap: a GPIO wake
        source would leave the pin's interrupt level-triggered after the
        sleep (board.py, SENSOR_POLL_MS). Radio on: BLE does not keep
        advertising through light sleep on esp32 (micropython#6396), so
        during a burst we stay awake, in 5 ms naps, so that an edge is looked
        at within 5 ms rather than at the next payload refresh."""
        if self._wdt is not None and ms > self.board.WDT_MS // 2:
            ms = self.board.WDT_MS // 2
        if not self.radio_on:
            if self.board.PORT == "esp32":
                poll = self.board.SENSOR_POLL_MS
                machine.lightsleep(ms if ms < poll else poll)
            else:
                machine.lightsleep(ms)
            return
        seen = log.count
        end = time.ticks_add(time.ticks_ms(), ms)
        while log.count == seen:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                break
            time.sleep_ms(5 if left > 5 else left)

    def deep_sleep(self, ms, wake_on_out):
        """Deep sleep for ms or until the sensor line leaves the level it
        rests at (wake_on_out: the line going "out"). Restarts from main."""
        self._wake_on(wake_on_out)
        machine.deepsleep(ms)

    def _wake_on(self, out):
        """Arm the deep-sleep wake source for the sensor line reading `out`.
        esp32.wake_on_gpio: on the C3 the only pin wake there is (ext0/ext1
        are not compiled in: ports/esp32/modesp32.c, SOC_PM_SUPPORT_EXT*).
        ESP-IDF then pulls the pin toward the other level while asleep
        (board.py: why the sensor must drive the line both ways)."""
        if self.board.PORT == "esp32":
            # (the rp2 stubs, which type-check this file too, have no esp32)
            import esp32  # type: ignore[import-not-found, unused-ignore]

            level = (1 - self._holstered) if out else self._holstered
            esp32.wake_on_gpio((self.pin,), esp32.WAKEUP_ANY_HIGH if level else esp32.WAKEUP_ALL_LOW)

    def report(self, *words):
        report(*words)

    # -- randomness ------------------------------------------------------
    def rand(self, n):
        """0..n-1 (n <= 2**30). MicroPython's random module is seeded from
        the chip's hardware RNG when first imported (extmod/modrandom.c,
        MICROPY_PY_RANDOM_SEED_INIT_FUNC: esp_random() on esp32,
        get_rand_32() on rp2); the virtual board seeds it per boot from the
        scenario, so runs repeat. Timing jitter only, never keys."""
        return random.getrandbits(30) % n

    # -- watchdog ---------------------------------------------------------
    def feed(self):
        """The loop is alive (called once per pass)."""
        if self._wdt is not None:
            self._wdt.feed()


_wdt_board = None  # the board whose watchdog runs, once Hardware started it
_wdt = None  # and the watchdog


def rtc_load():
    """RTC memory (b"" where the port has none: rp2)."""
    try:
        return machine.RTC().memory()
    except AttributeError:
        return b""


def rtc_save(data):
    try:
        machine.RTC().memory(data)
    except AttributeError:
        pass


def pause(ms):
    """Light-sleep ms on the timer alone (no pin wake: the firmware is not
    running), feeding the watchdog, if one runs, every 10 s."""
    while ms > 0:
        step = ms if ms < 10000 else 10000
        if _wdt is not None:
            _wdt.feed()
        machine.lightsleep(step)
        ms -= step
# After ^C on the bench: the longest a stopped firmware leaves the watchdog
# before it resets the board back into service.
_STOPPED_WDT_MS = const(3600000)


def stopped():
    """The firmware was stopped (^C: the bench, mpremote). A started watchdog
    cannot be stopped on any port. esp32 lets it be set again
    (ports/esp32/machine_wdt.c: esp_task_wdt_reconfigure), so it gets an hour:
    the bench has time to work, and a sensor left at the REPL goes back into
    service within the hour. rp2's allows 8388 ms at most: say so."""
    b = _wdt_board
    if b is None:
        return
    if b.PORT == "esp32":
        machine.WDT(timeout=_STOPPED_WDT_MS)
        report("watchdog", "relaxed", _STOPPED_WDT_MS // 1000)
    else:
        report("watchdog", "running", b.WDT_MS // 1000)


def report(*words):
    # One console line per thing the device did: "ds <ticks_ms> <what> ...".
    # Read by people on the bench and parsed by the simulator.
    print("ds", time.ticks_ms(), *words)


def reset():
    """Start again from main.py, as after power-on (RTC memory kept)."""
    machine.reset()


def reset_cause_name():
    """How this boot began, as the bench and the timeline say it."""
    cause = machine.reset_cause()
    for name, word in (("PWRON_RESET", "power-on"), ("HARD_RESET", "reset"), ("WDT_RESET", "watchdog"),
                       ("DEEPSLEEP_RESET", "deep-sleep"), ("SOFT_RESET", "soft-reset")):
        if cause == getattr(machine, name, None):
            return word
    return str(cause)
