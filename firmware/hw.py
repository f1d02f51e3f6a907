# The one module that touches hardware: sensor pin, radio, sleep, console.
# Everything else receives a Hardware object (or plain values) as arguments.
import bluetooth
import machine
import time

_PULLS = {"up": machine.Pin.PULL_UP, "down": machine.Pin.PULL_DOWN, "none": None}


class Hardware:
    """Owns the board's pin, BLE radio and sleep. Built in main(), never at import."""

    def __init__(self, board):
        self.board = board
        self._holstered = board.HOLSTERED_LEVEL
        # The stubs type pull as int, but None is the documented "no pull".
        pull = _PULLS[board.SENSOR_PULL]
        self.pin = machine.Pin(board.SENSOR_PIN, machine.Pin.IN, pull)  # type: ignore[arg-type]
        self.interval_us = board.ADV_MIN_INTERVAL_US
        self.ble = bluetooth.BLE()
        # Bring the controller up once, at boot: it takes ~100s of ms and
        # must never sit on the draw path.
        self.ble.active(True)
        self.radio_on = False

    def now(self):
        return time.ticks_ms()

    def is_out(self, level):
        """Line level (0/1) -> True when the sensor reads "out" (drawn)."""
        return level != self._holstered

    def out(self):
        return self.pin.value() != self._holstered

    def arm(self, handler):
        # Hard IRQ on both edges: the handler only timestamps (edges.py).
        self.pin.irq(handler=handler, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING, hard=True)

    def disarm(self):
        self.pin.irq(handler=None)

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

    def sleep(self, ms):
        """Wait up to ms. Light sleep (the sensor pin wakes us) unless the
        radio is on: BLE does not keep advertising through light sleep on
        esp32 (micropython#6396), so during a burst we stay awake."""
        if self.radio_on:
            time.sleep_ms(ms)
        else:
            machine.lightsleep(ms)

    def report(self, *words):
        # One console line per thing the device did: "ds <ticks_ms> <what> ...".
        # Read by people on the bench and parsed by the simulator.
        print("ds", time.ticks_ms(), *words)
