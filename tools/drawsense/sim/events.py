"""What a simulation run is made of: one ordered list of events.

Every event is a JSON object with ``t_ms`` (virtual milliseconds since the
board first powered on) and ``type``; ``drawsense sim --json`` prints them one
per line, and timeline, power, bench, the benchmarks and the tests read them.
They come from two places, merged in time order by ``sim.vboard.parse``:

- the virtual board (``@vb`` lines from ``sim/mp/_vb.emit``): what the
  hardware did: ``pin`` edges, ``sleep``/``wake``, ``radio``, ``adv`` on air...
- the firmware's own reports (``ds`` lines, ``hw.report``): what it decided:
  ``state``, ``level``, ``burst``, ``firmware`` (boot), ``fault``, ``report``.

This module is the schema: the fields each type always carries and those it
may carry, as ``TypedDict``s for readers and type checkers, and as ``SCHEMA``
for ``make``, which refuses an event outside it (a board or parser bug, not
bad input). Events are read-only: a run cached and shared between readers
cannot be changed by one of them.
"""

from __future__ import annotations

from typing import Literal, TypedDict

# type -> (fields always there, fields that may be); t_ms and type on all
SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # the board
    "boot": (("cause", "board", "tick_off_ms", "tick_base_us", "boot_ms"), ()),
    "pin": (("out", "level"), ()),        # the sensor pin as the MCU sees it; out: the gun is out
    "line": (("out", "level"), ()),       # a sampled sensor's line (Hall front-end), before its sample
    "sleep": (("mode", "ms"), ()),        # mode light | deep | idle (zephyr select.poll); ms None: until a pin wakes it
    "wake": (("cause", "slept_us"), ("tick_base_us",)),
    "radio": (("on",), ("data", "flash_reads", "interval_us")),
    "adv": (("data", "rssi", "addr", "interval_us"),
            ("event", "counter", "since_draw_ms", "battery_mv", "battery_low", "brownout")),  # decoded when the key is known
    "reset": (("cause",), ()),
    "brownout": (("cell_mv",), ()),
    "power": (("cut", "flash_op"), ()),
    "inject": (("fault",), ()),
    "irq_lost": (("n", "depth"), ()),
    "irq_storm": (("pin", "level", "handler"), ()),
    "wdt": (("timeout_ms",), ()),
    "crash": (("error",), ()),
    "console": (("text",), ()),
    "end": ((), ("awake_us", "light_us", "deep_us", "radio_us", "adverts", "wakeups", "irqs", "irqs_lost",
                 "irq_storms", "pull_uc", "faults_injected", "peak_heap", "boot_heap", "boots", "flash_ops",
                 "power_cuts", "brownouts", "flash_erases", "flash_prog_bytes")),
    # the firmware
    "state": (("state", "event"), ()),    # HOLSTERED | DRAWN | FAULT, and the event it sends (or "none")
    "level": (("level",), ()),            # debounced: in | out
    "burst": (("event", "ms", "sent"), ()),
    "firmware": (("board", "state", "cause"), ()),
    "fault": (("error",), ()),
    "report": (("words",), ()),           # any other report line, split in words
}


class SchemaError(ValueError):
    """An event outside the schema: the virtual board or the parser is wrong."""


class Event(dict):
    """One event: a dict (JSON as it is) that cannot be changed once made."""

    __slots__ = ()

    def _refuse(self, *a, **k):
        raise TypeError("a simulation event is read-only")

    __setitem__ = __delitem__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __copy__(self) -> dict:
        return dict(self)

    def __reduce__(self):
        return (Event, (dict(self),))


def make(fields: dict) -> Event:
    """The event `fields` (t_ms, type and the type's fields), checked."""
    kind = fields.get("type")
    spec = SCHEMA.get(kind)  # type: ignore[arg-type]
    if spec is None:
        raise SchemaError(f"unknown event type {kind!r}")
    need, may = spec
    missing = [k for k in need if k not in fields]
    extra = [k for k in fields if k not in need and k not in may and k not in ("t_ms", "type")]
    if "t_ms" not in fields or missing or extra:
        raise SchemaError(f"{kind} event: missing {missing or ['t_ms']}" if missing or "t_ms" not in fields
                          else f"{kind} event: unknown fields {extra}")
    return Event(fields)


# -- the same, for readers and type checkers ---------------------------------

class _Base(TypedDict):
    t_ms: float


class Pin(_Base):
    type: Literal["pin", "line"]
    out: bool
    level: int


class Adv(_Base, total=False):
    type: Literal["adv"]
    data: str  # the advertising payload, hex
    rssi: int
    addr: str  # aa:bb:cc:dd:ee:ff, a fresh random address per burst
    interval_us: int
    event: str  # decoded (the key is known): draw | holster | reminder | heartbeat | fault | boot | test
    counter: int
    since_draw_ms: int
    battery_mv: int
    battery_low: bool
    brownout: bool


class Radio(_Base, total=False):
    type: Literal["radio"]
    on: bool
    data: str
    flash_reads: int
    interval_us: int


class Sleep(_Base):
    type: Literal["sleep"]
    mode: Literal["light", "deep", "idle"]
    ms: int | None


class State(_Base):
    type: Literal["state"]
    state: Literal["HOLSTERED", "DRAWN", "FAULT"]
    event: str


class Burst(_Base):
    type: Literal["burst"]
    event: str
    ms: int
    sent: bool
