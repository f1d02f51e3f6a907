# The one module that touches hardware: sensor pin, radio, ADC, RTC memory,
# sleep, console. Everything else receives a Hardware object (or plain
# values) as arguments.
import io
import time

import random

import bluetooth
import machine
from micropython import const

_MP_STREAM_POLL = const(3)  # py/stream.h
_POLLIN = const(1)
_ZEPHYR_CAUSE = const(42)  # ports/zephyr/modmachine.c machine_reset_cause, whatever the cause

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
        self._zephyr = board.PORT == "zephyr"
        self._poller = None
        if self._zephyr:
            # ADC ids are (adc device, channel) tuples there: the SAADC's VDD
            # input, the cell itself (board.py); ADC(Pin) is refused.
            self._adc = machine.ADC(board.BATTERY_ADC_PIN)  # type: ignore[arg-type, unused-ignore]
        elif board.BATTERY_ADC_PIN >= 0:  # -1: the board has no battery sense
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
        # zephyr: soft as well. Only mp_sched_schedule signals the k_poll the
        # idle wait (sleep) sits in, so a hard IRQ would not end it; and a
        # hard handler that interrupts Zephyr's idle thread runs on thread
        # state MicroPython never set up (zephyr.toml
        # behaviour.hard_irq_thread_state). The scheduler is 4 deep there; a
        # push-pull Hall switch gives one edge per sample at most.
        if self.board.PORT in ("esp32", "zephyr"):
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
        # W) keeps one per power cycle (docs/protocol.md, privacy). zephyr
        # refuses addr_mode (EOPNOTSUPP): with the product's advertiser patch
        # (board.py ZEPHYR_ADV_PATCH) every non-connectable start takes a
        # fresh non-resolvable private address, so stopping here makes the
        # burst's first advertise() a new address; a stock build sends its
        # fixed identity address whatever we do.
        if self.radio_on:
            self.quiet()
        if not self._zephyr:
            self.ble.config(addr_mode=1)

    def advertise(self, data):
        # connectable=False: nothing can connect to the sensor. On NimBLE and
        # btstack this is ADV_SCAN_IND (shared/REFERENCE.md). zephyr: every
        # call stops and restarts the advertiser (there is no payload update
        # without a start) and, stock, keeps a connection record on the heap
        # per start; the patched build allocates none for connectable=False,
        # so the heap stays flat however many payloads a burst sends.
        self.ble.gap_advertise(self.interval_us, data, connectable=False)
        self.radio_on = True

    def quiet(self):
        # interval_us=None stops advertising (MicroPython docs); the stubs
        # only allow int there.
        self.ble.gap_advertise(None)  # type: ignore[arg-type]
        self.radio_on = False

    # -- resets, RTC memory, sleep ----------------------------------------
    def reset_cause(self):
        return _cause()

    def reset_cause_name(self):
        return reset_cause_name()

    def woke_from_deep_sleep(self):
        # rp2 has no DEEPSLEEP_RESET (its deepsleep is a reset through the
        # watchdog); zephyr has no reset constants at all
        return _cause() == getattr(machine, "DEEPSLEEP_RESET", -1)

    def power_on_reset(self):
        # A brownout also reports PWRON_RESET (shared/REFERENCE.md). zephyr
        # cannot tell (42 for every cause): taken as a power-on, which only
        # matters with RTC memory, which zephyr lacks.
        return _cause() == getattr(machine, "PWRON_RESET", _ZEPHYR_CAUSE)

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
        if self.board.PORT == "zephyr":
            self._idle(ms, log)  # no light sleep there, radio on or off
            return
        if not self.radio_on:
            if self.board.PORT == "esp32":
                poll = self.board.SENSOR_POLL_MS
                machine.lightsleep(ms if ms < poll else poll)
            elif self.board.PORT != "zephyr":
                machine.lightsleep(ms)
            return
        seen = log.count
        end = time.ticks_add(time.ticks_ms(), ms)
        while log.count == seen:
            left = time.ticks_diff(end, time.ticks_ms())
            if left <= 0:
                break
            time.sleep_ms(5 if left > 5 else left)

    def _idle(self, ms, log):
        """zephyr: no light or deep sleep. Wait in select.poll on an object
        that is ready once the pin IRQ has logged an edge: poll waits in
        mp_hal_wait_event(true, ...) (MICROPY_INTERNAL_WFE), a k_poll where
        Zephyr's idle thread sleeps the CPU with the radio advertising on its
        own, and the soft pin IRQ's mp_sched_schedule signal ends it (while
        time.sleep_ms would run the handler and sleep on). The object and
        poller are made once."""
        if self._poller is None:
            import select

            self._edge = _Edge(log)
            self._poller = select.poll()
            self._poller.register(self._edge, select.POLLIN)  # type: ignore[arg-type, unused-ignore]
        self._poller.poll(ms)

    def deep_sleep(self, ms, wake_on_out):
        """Deep sleep for ms or until the sensor line leaves the level it
        rests at (wake_on_out: the line going "out"). Restarts from main."""
        self._wake_on(wake_on_out)
        if self.board.PORT != "zephyr":  # none there; never asked for (board.WAKE "idle")
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




class _Edge(io.IOBase):
    """Ready (POLLIN) once the edge log holds an edge the loop has not taken
    (so an edge between the loop's take and the wait is not missed): what
    the zephyr idle wait polls. select.poll takes any object with the stream
    protocol; a Python class gets it from io.IOBase, whose ioctl method
    poll_map_poll then calls with MP_STREAM_POLL (3) (extmod/modselect.c,
    extmod/modio.c iobase_ioctl)."""

    def __init__(self, log):
        self.log = log

    def ioctl(self, req, arg):
        # the branch comes first: its pending check (py/vm.c) runs a queued
        # soft IRQ handler before the log is read
        if req == _MP_STREAM_POLL:
            if self.log.fresh():
                return arg & _POLLIN
        return 0


_cause_memo = -1


def _cause():
    """machine.reset_cause(), once per boot: zephyr's prints a warning at
    every call (zephyr.toml behaviour.reset_cause)."""
    global _cause_memo
    if _cause_memo == -1:
        _cause_memo = machine.reset_cause()
    return _cause_memo


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
        try:
            nap = machine.lightsleep
        except AttributeError:
            nap = time.sleep_ms  # type: ignore[assignment, unused-ignore]  # zephyr: no lightsleep; k_poll idles the CPU
        nap(step)
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
    cause = _cause()
    if not hasattr(machine, "PWRON_RESET"):
        return "unknown"  # zephyr: 42 whatever happened
    for name, word in (("PWRON_RESET", "power-on"), ("HARD_RESET", "reset"), ("WDT_RESET", "watchdog"),
                       ("DEEPSLEEP_RESET", "deep-sleep"), ("SOFT_RESET", "soft-reset")):
        if cause == getattr(machine, name, None):
            return word
    return str(cause)
