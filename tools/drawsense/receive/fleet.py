"""The fleet view: every device in the key store, when it was last heard,
its battery (mV, state of charge, trend, days to the low threshold) and what
needs attention (LOW, SILENT).

Reads what the receiver writes: each device's last battery report and the
battery history KeyStore.accept() keeps (at most one reading per device per
10 minutes). Times are whatever the receiver stored, unix seconds from a real
radio or virtual seconds from simulated air; `now` must be on the same clock.

    drawsense fleet [--keys FILE] [--json] [--cell CR2032] [--heartbeat-h 6] [--low-mv 2500]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

from drawsense.model import cell as cellmod
from drawsense.keystore import KeyStore, Reading

DAY = 86400.0
TREND_WINDOW_DAYS = 30.0   # least squares over the last 30 days of readings
MIN_TREND_SPAN_DAYS = 1.0  # ... spanning at least a day, else no trend
SILENT_AFTER_HEARTBEATS = 2


@dataclass
class DeviceStatus:
    name: str
    id_hex: str
    last_seen: float | None
    battery_mv: int | None
    percent: float | None
    trend_mv_per_day: float | None
    days_left: float | None
    low: bool
    silent: bool
    damaged: str | None = None  # why the store's row is unusable (the receiver leaves it out)

    @property
    def flags(self) -> list[str]:
        return [f for f, on in (("DAMAGED", self.damaged), ("LOW", self.low), ("SILENT", self.silent)) if on]


def trend(readings: Sequence[Reading], *, now: float) -> float | None:
    """Least-squares slope in mV/day over the readings of the last 30 days
    before `now`; None with fewer than 2 of them or when they span < 1 day."""
    pts = [(r.t, r.mv) for r in readings if now - TREND_WINDOW_DAYS * DAY <= r.t <= now]
    if len(pts) < 2:
        return None
    ts = [t for t, _ in pts]
    if max(ts) - min(ts) < MIN_TREND_SPAN_DAYS * DAY:
        return None
    n = len(pts)
    t0 = min(ts)
    xs = [(t - t0) / DAY for t in ts]
    ys = [float(mv) for _, mv in pts]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / sxx


def days_left(mv: int | None, slope: float | None, low_mv: float, *, age_days: float = 0.0) -> float | None:
    """Days from now until mv, falling at `slope` mV/day, reaches low_mv;
    age_days is how old the mv reading is. None unless falling; 0 if already
    at or below the threshold."""
    if mv is None or slope is None or slope >= 0:
        return None
    return max(0.0, (mv - low_mv) / -slope - age_days)


def status(store: KeyStore, *, now: float, heartbeat_h: float, cell: str = "CR2032",
           low_mv: float = 2500) -> list[DeviceStatus]:
    """One DeviceStatus per device in the store, by name."""
    try:
        c = cellmod.CELLS[cell.upper()]
    except KeyError:
        raise ValueError(f"unknown cell {cell!r} (known: {', '.join(cellmod.CELLS)})") from None
    out = []
    for d in store.devices():
        hist = store.readings(d.name, since=now - TREND_WINDOW_DAYS * DAY, until=now)
        slope = trend(hist, now=now)
        # the age of the reading the countdown starts from: the newest in the
        # history, else when the device was last heard
        t_mv = hist[-1].t if hist else d.last_seen
        age = max(0.0, (now - t_mv) / DAY) if t_mv is not None else 0.0
        mv = d.battery_mv
        out.append(DeviceStatus(
            name=d.name,
            id_hex=d.id_hex,
            last_seen=d.last_seen,
            battery_mv=mv,
            percent=None if mv is None else round(cellmod.percent(c, mv), 1),
            trend_mv_per_day=slope,
            days_left=days_left(mv, slope, low_mv, age_days=age),
            low=bool(d.battery_low) or (mv is not None and mv < low_mv),
            silent=d.last_seen is None or now - d.last_seen > SILENT_AFTER_HEARTBEATS * heartbeat_h * 3600,
        ))
    for bad in store.damaged():  # shown, flagged: no receiver hears it until it is mended
        out.append(DeviceStatus(bad.name, "?", None, None, None, None, None, False, False, damaged=bad.why))
    return sorted(out, key=lambda s: s.name)


# ------------------------------------------------------------------ CLI --

def ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * DAY:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // DAY)} d ago"


def as_json(s: DeviceStatus) -> dict:
    d = asdict(s)
    d = {"name": d.pop("name"), "id": d.pop("id_hex"), **d}   # "id" as in 'drawsense keys list --json'
    if d["damaged"] is None:
        del d["damaged"]  # only on a damaged row, as in 'drawsense keys list --json'
    if d["trend_mv_per_day"] is not None:
        d["trend_mv_per_day"] = round(d["trend_mv_per_day"], 3)
    if d["days_left"] is not None:
        d["days_left"] = round(d["days_left"], 1)
    d["flags"] = s.flags
    return d
