"""Ways to show a simulation run: a readable timeline, JSON lines, a VCD file,
and the few figures everyone asks for (draws, latency, adverts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Callable

from drawsense.sim.events import Adv, Event
from drawsense.sim.vboard import SimResult

# A run of pin edges closer together than this is shown as one line (bounce).
_BOUNCE_GAP_MS = 20.0


@dataclass
class Burst:
    event: str
    t_ms: float  # the firmware started it
    ms: int  # planned length
    adverts: list[Adv]

    @property
    def first_ms(self) -> float | None:
        return self.adverts[0]["t_ms"] if self.adverts else None


def bursts(run: SimResult) -> list[Burst]:
    """Bursts as the firmware announced them, each with the adverts that went
    on air until the next burst or radio-off."""
    out: list[Burst] = []
    cur: Burst | None = None
    for e in run.events:
        if e["type"] == "burst":
            cur = Burst(e["event"], e["t_ms"], e["ms"], [])
            out.append(cur)
        elif e["type"] == "adv" and cur is not None:
            cur.adverts.append(e)
        elif e["type"] == "radio" and not e["on"]:
            cur = None
    return out


def settle_before(run: SimResult, t_ms: float) -> float | None:
    """Time of the last sensor edge to "out" at or before t_ms."""
    best = None
    for e in run.of("pin"):
        if e["t_ms"] > t_ms:
            break
        if e["out"]:
            best = e["t_ms"]
    return best


def draw_latencies(run: SimResult) -> list[float]:
    """For each draw: sensor settled "out" -> first advert on air, in ms.
    A draw burst sent again after a reset (the sensor has not moved since)
    is the same draw: its first advert is the one that counts."""
    lat = []
    seen = set()
    for b in bursts(run):
        if b.event == "draw" and b.first_ms is not None:
            settled = settle_before(run, b.t_ms)
            if settled is not None and settled not in seen:
                seen.add(settled)
                lat.append(round(b.first_ms - settled, 3))
    return lat


def _draws(run: SimResult) -> tuple[int, int]:
    """(draws, draw reports): a board reset with the gun out (a brownout, a
    fault, the watchdog) reports the draw again when it boots; that is the
    same draw, so it counts once."""
    draws = reports = 0
    last = None
    for e in run.of("state"):
        if e["event"] == "draw":
            reports += 1
            draws += last != "DRAWN"
        last = e["state"]
    return draws, reports


def summary(run: SimResult) -> dict:
    events = [e["event"] for e in run.of("state")]
    st = run.stats
    total = st.get("awake_us", 0) + st.get("light_us", 0) + st.get("deep_us", 0)
    draws, reports = _draws(run)
    return {
        "scenario": run.scenario,
        "board": run.board,
        "virtual_s": round(run.duration_ms / 1000, 3),
        "wall_s": round(run.wall_s, 3),
        "draws": draws,
        "draw_reports": reports,
        "holsters": events.count("holster"),
        "faults": events.count("fault"),
        "brownouts": len(run.of("brownout")),
        "states": run.states(),
        "bursts": {b.event: 0 for b in bursts(run)} | _count_bursts(run),
        "adverts": len(run.adverts()),
        "draw_latency_ms": draw_latencies(run),
        "asleep_pct": round(100 * (st.get("light_us", 0) + st.get("deep_us", 0)) / total, 3) if total else 0.0,
        "pin_edges": len(run.of("pin")),
        "wakeups": st.get("wakeups", 0),
    }


def _count_bursts(run: SimResult) -> dict:
    counts: dict = {}
    for b in bursts(run):
        counts[b.event] = counts.get(b.event, 0) + 1
    return counts


# ---------------------------------------------------------------- text ----

def write_text(run: SimResult, f: IO[str], *, title: str = "") -> None:
    f.write(title + "\n" if title else "")
    f.write(f"{'t (ms)':>11}  what\n")
    pending: list[dict] = []
    burst_of = {id(b.adverts[0]) if b.adverts else None: b for b in bursts(run)}

    def flush_pins() -> None:
        if not pending:
            return
        a, z = pending[0], pending[-1]
        side = "out (drawn)" if z["out"] else "in (holstered)"
        if len(pending) == 1:
            line(a["t_ms"], f"sensor  -> {side}, line {z['level']}")
        else:
            line(a["t_ms"], f"sensor  {len(pending)} edges over {z['t_ms'] - a['t_ms']:.2f} ms, settles {side}")
        pending.clear()

    def line(t: float, text: str) -> None:
        f.write(f"{t:11.3f}  {text}\n")

    for e in run.events:
        kind = e["type"]
        if kind == "pin":
            if pending and e["t_ms"] - pending[-1]["t_ms"] > _BOUNCE_GAP_MS:
                flush_pins()
            pending.append(e)
            continue
        if kind in ("sleep", "wake", "radio", "adv", "end"):
            if kind == "adv" and id(e) in burst_of:
                b = burst_of[id(e)]
                flush_pins()
                settled = settle_before(run, b.t_ms) if b.event == "draw" else None
                extra = f", {e['t_ms'] - settled:.1f} ms after the sensor settled" if settled is not None else ""
                line(e["t_ms"], f"air     first {b.event} advert{extra}; {len(b.adverts)} adverts "
                                f"in this burst, from {e['addr']}")
            continue
        flush_pins()
        text = _TEXT.get(kind)
        if text is not None:
            line(e["t_ms"], text(e))
    flush_pins()
    s = summary(run)
    lat = ", ".join(f"{x:.1f}" for x in s["draw_latency_ms"]) or "-"
    again = s["draw_reports"] - s["draws"]
    again_text = f" (reported again after {again} reset{'s' * (again != 1)})" if again else ""
    brown = f", {s['brownouts']} brownout(s)" if s["brownouts"] else ""
    f.write(
        f"\n{s['draws']} draw(s){again_text}, {s['holsters']} holster(s), {s['faults']} fault(s){brown}; "
        f"{s['adverts']} adverts on air; draw -> first advert: {lat} ms after the sensor settled out\n"
        f"{s['virtual_s']} s simulated in {s['wall_s']} s; asleep {s['asleep_pct']} % of the time, "
        f"{s['wakeups']} wake-ups, {s['pin_edges']} sensor edges\n"
    )


def unmet(run: SimResult, expect: dict[str, int]) -> list[str]:
    """What a scenario's `expect` asked for and the run did not show, e.g.
    ["brownouts = 1, the run had 0"]."""
    s = summary(run)
    return [f"{key} = {n}, the run had {s[key]}" for key, n in expect.items() if s[key] != n]


def _firmware(e: Event) -> str:
    cause = e.get("cause", "power-on")
    # the firmware's words for how it booted (hw.reset_cause_name), one word each
    after = {"power-on": "", "?": "", "reset": " (after a reset)", "soft-reset": " (after a soft reset)",
             "deep-sleep": " (after a deep-sleep wake)",
             "unknown": " (the port does not say why: zephyr's reset_cause)"}.get(cause, f" (after a {cause} reset)")
    return f"ready   firmware running{after}, sensor reads {e['state'].lower()}"


def _report(e: Event) -> str:
    w = e["words"]
    if w[0] == "device":
        return f"device  id {w[1]} (provisioned)"
    if w[0] == "unprovisioned":
        return "device  UNPROVISIONED: no key file, nothing will be sent (drawsense provision)"
    if w[0] == "log":  # firmware/evlog.py: a record committed to flash, or a new chain
        if w[1:] == ["new-chain"]:
            return "log     a new chain in the event log (the log key changed)"
        from drawsense import eventlog

        event = int(w[2])
        return f"log     record {w[1]} committed to the event log: {eventlog.EVENTS.get(event, f'event-{event}')}"
    return "report  " + " ".join(w)


# One line of the text timeline per event type (sim/events.py); a type not
# here (line, irq_lost, irq_storm) is not shown, and pin edges, sleep, wake,
# radio and adverts are summarised by write_text itself.
_TEXT: dict[str, Callable[[Event], str]] = {
    "boot": lambda e: f"boot    {e['cause']} on {e['board']}",
    "firmware": _firmware,
    "fault": lambda e: f"FAULT   the firmware raised {e['error']}: it reports it and resets",
    "inject": lambda e: f"INJECT  a {e['fault']} fault (the virtual board)",
    "wdt": lambda e: f"WATCHDOG not fed for {e['timeout_ms']} ms: the chip resets",
    "level": lambda e: f"level   debounced: {e['level']}",
    "state": lambda e: f"state   {e['state']}" + (f" ({e['event']} event)" if e["event"] != "none" else " (no event)"),
    "burst": lambda e: (f"burst   {e['event']}: advertising for {e['ms']} ms" if e.get("sent", True)
                        else f"burst   {e['event']}: not sent (unprovisioned)"),
    "reset": lambda e: f"reset   {e['cause']}",
    "console": lambda e: f"console {e['text']}",
    "crash": lambda e: f"CRASH   {e['error']}",
    "brownout": lambda e: f"BROWNOUT the cell sagged to {e['cell_mv']} mV under the radio's load: reset",
    "power": lambda e: "POWER   cut during a flash write; back at once",
    "report": _report,
}


# ---------------------------------------------------------------- json ----

_PUBLIC = ("t_ms", "type")


def write_json(run: SimResult, f: IO[str]) -> None:
    """One JSON object per line: every event, each with t_ms and type."""
    for e in run.events:
        obj = {"t_ms": e["t_ms"], "type": e["type"]}
        obj.update({k: v for k, v in e.items() if k not in _PUBLIC})
        f.write(json.dumps(obj) + "\n")


# ----------------------------------------------------------------- vcd ----

# The wires of the VCD, in the order they are declared: (name, what it is).
# All are one-bit wires: sigrok's VCD importer (libsigrok src/input/vcd.c)
# reads only those, and stops at the first vector value; GTKWave reads both.
VCD_WIRES: tuple[tuple[str, str], ...] = (
    ("sensor", "the sensor pin's electrical level as the MCU sees it"),
    ("debounced_out", "1 while the firmware's debounced level is out (drawn)"),
    ("state_holstered", "1 while the firmware's state is HOLSTERED"),
    ("state_drawn", "1 while the firmware's state is DRAWN"),
    ("state_fault", "1 while the firmware's state is FAULT"),
    ("radio_on", "1 while the radio advertises"),
    ("adv", "a 376 us pulse for each advertising event on air"),
    ("asleep", "1 while the chip sleeps (light, deep or idle)"),
    ("deep_sleep", "1 while the chip is in deep sleep"),
    ("boot", "1 while the chip boots: from a reset or power-on for its boot time"),
    ("brownout", "1 from a brownout (the cell sagged under load) until the chip has booted again"),
)
_ADV_US = 376  # an advertising event: ~3 channels x 128 us on air
_STATE_WIRES = {"HOLSTERED": "state_holstered", "DRAWN": "state_drawn", "FAULT": "state_fault"}


def vcd_changes(run: SimResult) -> list[tuple[int, str, int]]:
    """(t_us, wire, value) for every wire of VCD_WIRES, in time order; at
    one t_us the last change of a wire is its value from then on. Each wire
    starts at 0 at time 0 except the sensor, which starts where it was."""
    out: list[tuple[int, int, str, int]] = []  # (t_us, order, wire, value)

    def put(t_us: int, wire: str, value: int, order: int) -> None:
        out.append((t_us, order, wire, value))

    end_us = round(run.duration_ms * 1000)
    pins = run.of("pin")
    put(0, "sensor", 1 - pins[0]["level"] if pins else 0, -1)  # the level before its first edge
    boots = [(round(e["t_ms"] * 1000), e["boot_ms"] * 1000) for e in run.of("boot")]
    for i, e in enumerate(run.events):
        t = round(e["t_ms"] * 1000)
        k = e["type"]
        if k == "pin":
            put(t, "sensor", e["level"], i)
        elif k == "level":
            put(t, "debounced_out", int(e["level"] == "out"), i)
        elif k in ("state", "firmware"):
            for state, wire in _STATE_WIRES.items():
                put(t, wire, int(e["state"] == state), i)
        elif k == "radio":
            put(t, "radio_on", int(e["on"]), i)
        elif k == "adv":
            put(t, "adv", 1, i)
            put(min(t + _ADV_US, end_us), "adv", 0, i)
        elif k == "sleep":
            put(t, "asleep", 1, i)
            put(t, "deep_sleep", int(e["mode"] == "deep"), i)
        elif k == "wake":
            put(t, "asleep", 0, i)
            put(t, "deep_sleep", 0, i)
        elif k == "boot":
            put(t, "boot", 1, i)
            put(min(t + e["boot_ms"] * 1000, end_us), "boot", 0, i)
        elif k == "brownout":
            booted = next((b + ms for b, ms in boots if b >= t), end_us)
            put(t, "brownout", 1, i)
            put(min(booted, end_us), "brownout", 0, i)
    out.sort()
    return [(t, wire, value) for t, _, wire, value in out]


def write_vcd(run: SimResult, f: IO[str], *, date: datetime | None = None) -> None:
    """Value Change Dump (IEEE 1364-2005, 18.2) of the run: VCD_WIRES, one bit
    each, timescale 1 us. sigrok-cli/PulseView (-I vcd) and GTKWave read it."""
    when = (date or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    codes = {name: chr(33 + i) for i, (name, _) in enumerate(VCD_WIRES)}  # '!', '"', '#', ...
    f.write(f"$date {when} $end\n$version drawsense sim $end\n")
    f.write(f"$comment scenario {run.scenario} on board {run.board}; "
            + "; ".join(f"{name}: {what}" for name, what in VCD_WIRES) + " $end\n")
    f.write("$timescale 1us $end\n")
    f.write(f"$scope module {run.board} $end\n")
    for name, _ in VCD_WIRES:
        f.write(f"$var wire 1 {codes[name]} {name} $end\n")
    f.write("$upscope $end\n$enddefinitions $end\n")
    level = {name: 0 for name, _ in VCD_WIRES}
    changes = vcd_changes(run)
    while changes and changes[0][0] == 0:  # the values at time 0 are the initial dump
        _, wire, value = changes.pop(0)
        level[wire] = value
    f.write("#0\n$dumpvars\n" + "".join(f"{level[name]}{codes[name]}\n" for name, _ in VCD_WIRES) + "$end\n")
    at: dict[str, int] = {}  # the changes at one time stamp: the last per wire
    last_t = 0

    def flush() -> None:
        moved = [(w, v) for w, v in at.items() if v != level[w]]
        if moved:
            f.write(f"#{last_t}\n" + "".join(f"{v}{codes[w]}\n" for w, v in moved))
            level.update(moved)
        at.clear()

    for t, wire, value in changes:
        if t != last_t:
            flush()
            last_t = t
        at[wire] = value
    flush()
    f.write(f"#{round(run.duration_ms * 1000)}\n")
