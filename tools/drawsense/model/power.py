"""`drawsense power`: battery life from the firmware's own timeline.

The firmware runs on the virtual board over simulated days (with draws, and
without), and the virtual board reports how long
the chip spent awake, in light sleep and in deep sleep, and how many
advertising events it sent. Those times, priced with the board's power
profile (boards/NAME/power.toml, every figure with its source), give the
charge per draw and per heartbeat and of an average day at the requested
draw rate (model()); the coin-cell model (cell.py)
turns the average current into a life that ends where the cell's voltage
under the device's peak load falls below what the supply needs, not where the
mAh run out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from drawsense import boards
from drawsense.model import cell
from drawsense.sim import vboard
from drawsense.sim.scenario import Scenario

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DAY_US = 86_400_000_000
FIGURES = ("deep_sleep_ua", "light_sleep_ua", "awake_ma", "adv_event_uc", "supply", "supply_v",
           "boost_efficiency", "boost_quiescent_ua", "divider_ua", "min_cell_v", "sensor_ua", "sign_ms",
           "flash_erase_ms", "flash_prog_ms_per_kib", "flash_ma")
NOMINAL_CELL_V = 2.9  # what a boost converter's input current is reckoned at (the curve's plateau)


class ProfileError(ValueError):
    pass


@dataclass
class Profile:
    board: str
    values: dict
    sources: dict

    def __getitem__(self, k):
        return self.values[k]

    @property
    def supply_factor(self) -> float:
        """Charge from the cell per unit of charge the load draws: through a
        boost converter, supply_v / (cell V x efficiency); else 1."""
        if self["supply"] == "boost":
            return self["supply_v"] / (NOMINAL_CELL_V * self["boost_efficiency"])
        return 1.0


def load_profile(board_name: str) -> Profile:
    b = boards.load(board_name)
    f = b.dir / "power.toml"
    if not f.is_file():
        raise ProfileError(f"{f}: missing: board {board_name} has no power profile")
    try:
        data = tomllib.loads(f.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{f}: {e}") from None
    values, sources = {}, {}
    for k in FIGURES:
        item = data.get(k)
        if not isinstance(item, dict) or "value" not in item or not str(item.get("source", "")).strip():
            raise ProfileError(f"{f}: {k} must be {{ value = ..., source = \"where it comes from\" }}")
        values[k], sources[k] = item["value"], item["source"]
    values["sensor_part"] = b["SENSOR_PART"]
    sources["sensor_part"] = "board.py SENSOR_PART"
    values["wake"] = b["WAKE"]
    sources["wake"] = "board.py WAKE"
    values["boot_ms"] = b["BOOT_MS"]
    sources["boot_ms"] = "board.py BOOT_MS"
    values["ble_activate_ms"] = b["BLE_ACTIVATE_MS"]
    sources["ble_activate_ms"] = "board.py BLE_ACTIVATE_MS"
    return Profile(board_name, values, sources)


def draws_to_simulate(days: float, draws_per_day: float, drawn_s: float) -> int:
    """How many draws the run with draws holds: days x rate, rounded, and at
    least one (a rate under one in `days` is priced from one draw's charge,
    not rounded to none). Raises ValueError, in words for the user, when the
    draws, each out drawn_s, do not fit in `days` with a second between them."""
    if draws_per_day <= 0:
        return 0
    n = max(1, round(days * draws_per_day))
    if days * 86400 / n < drawn_s + 1:
        raise ValueError(f"{days:g} simulated day(s) cannot hold {n} draw(s) of {drawn_s:g} s: give more --days "
                         f"or a shorter --drawn-s")
    return n


def day_scenario(days: float, draws: int, drawn_s: float, seed: int = 1) -> Scenario:
    """Holstered days with `draws` draws spread evenly (each in the middle of
    its share of the time), each out for `drawn_s` seconds, with ~2 ms of
    contact bounce at every edge."""
    import random

    rnd = random.Random(seed)
    edges: list[tuple[int, bool]] = []
    span = int(days * DAY_US)
    for i in range(draws):
        t = int((i + 0.5) * span / draws - drawn_s * 500_000)
        for out, start in ((True, t), (False, t + int(drawn_s * 1_000_000))):
            tt = start
            # bounce: a few toggles over ~2 ms, ending at `out`
            k = rnd.choice((0, 2, 4))
            for j in range(k):
                edges.append((tt, out if j % 2 == 0 else not out))
                tt += rnd.randint(100, 500)
            edges.append((tt, out))
    return Scenario(name=f"{days:g} day(s), {draws} draw(s)", description="", seed=seed,
                    duration_us=span, initial_out=False, edges=edges, battery=[(0, 3000)], source="power")


def _clean(edges):
    """Keep only real level changes (the bounce generator may repeat a level)."""
    out, level = [], False
    for t, o in edges:
        if o != level and (not out or t > out[-1][0]):
            out.append((t, o))
            level = o
    return out


def simulate(board_name: str, days: float, draws: int, drawn_s: float, progress=None):
    scen = day_scenario(days, draws, drawn_s)
    scen.edges = _clean(scen.edges)
    # a fixed identity: the model's runs are deterministic, like every scenario
    secret = hashlib.sha256(b"drawsense power model").digest()
    return vboard.run(scen, board_name, secret=secret, device_id=secret[:8], log_key=LOG_KEY, progress=progress,
                      timeout=3600)


def idle_label(p: Profile) -> str:
    """What the board's light_us is: a light sleep, or (zephyr) the CPU idle
    in System ON with the radio up."""
    return "CPU idle (System ON, radio up)" if p["wake"] == "idle" else "light sleep"


def counts(run) -> dict:
    """What a run's load is priced from: the virtual board's counters (times
    in us, adverts, pull_uc) and the signed payloads (radio starts with data).
    All add up, so the counts of an average day are sums of runs' counts."""
    out = {k: v for k, v in run.stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    out["signed"] = sum(1 for e in run.of("radio") if e.get("data"))
    out["logged"] = sum(1 for e in run.of("report") if e["words"][:1] == ["log"])  # event-log records committed
    return out


def load_charge_uc(stats: dict, p: Profile) -> dict:
    """Charge the board's load drew, by what it was doing (microcoulombs),
    from counts()."""
    out = {
        "deep sleep": stats["deep_us"] / 1e6 * p["deep_sleep_ua"],
        idle_label(p): stats["light_us"] / 1e6 * p["light_sleep_ua"],
        "awake (boot, radio up, bursts)": stats["awake_us"] / 1e6 * p["awake_ma"] * 1000,
        "advertising events": stats["adverts"] * p["adv_event_uc"],
        # the sensor line's pull resistor, while the front-end holds the line
        # at the other rail (the virtual board integrates it: pull_uc)
        "sensor pull resistor": stats.get("pull_uc", 0.0),
    }
    if p["sign_ms"]:
        # the virtual board runs code in no time: each signed payload (a radio
        # start with data) keeps the CPU awake sign_ms out of what it counted
        # as idle
        out["signing (AES in MicroPython)"] = stats["signed"] * p["sign_ms"] / 1e3 * (p["awake_ma"] * 1000
                                                                          - p["light_sleep_ua"])
    return out


# -- flash writes: the event log (firmware/evlog.py) and the counter --------
LOG_KEY = hashlib.sha256(b"drawsense power model log").digest()[:16]  # the model device keeps its event log
FLASH_TERM = "flash writes (log, counter)"


def flash_charge_uc(stats: dict, p: Profile) -> dict:
    """Charge of the run's flash writes (the virtual board counts erases and
    programmed bytes; its code takes no virtual time, so the awake time does
    not hold them): the chip awake plus the flash's own write current, for
    each erase and each KiB programmed."""
    ms = stats.get("flash_erases", 0) * p["flash_erase_ms"] \
        + stats.get("flash_prog_bytes", 0) / 1024 * p["flash_prog_ms_per_kib"]
    return {FLASH_TERM: ms / 1000 * (p["awake_ma"] + p["flash_ma"]) * 1000}


def log_ring(board_name: str, events_per_day: float) -> dict:
    """How much the board's ring holds (board.py LOG_SEGMENTS x config.LOG_SEG_RECORDS), and for how long."""
    from drawsense import firmware

    events = boards.load(board_name)["LOG_SEGMENTS"] * firmware.module("config").LOG_SEG_RECORDS
    return {"ring_events": events, "ring_years": round(events / events_per_day / 365.25, 2) if events_per_day else None}


def cell_charge_uc(load: dict, seconds: float, p: Profile) -> dict:
    """What the cell supplies: through the converter, plus its own and the
    divider's standing current."""
    k = p.supply_factor
    out = {name: q * k for name, q in load.items()}
    out["converter + divider"] = (p["boost_quiescent_ua"] + p["divider_ua"]) * seconds
    # the sensor itself (a Hall switch's own supply current; 0 for a reed),
    # powered from the cell
    out["sensor front-end"] = p["sensor_ua"] * seconds
    return out


def peak_cell_ma(p: Profile) -> float:
    """The sustained load the cell must hold its voltage under: the chip awake
    through a burst (the bulk capacitor takes the sub-ms TX peaks)."""
    return p["awake_ma"] * p.supply_factor


MIN_PLAIN_DAYS = 2.0
"""The day without draws is priced from at least this many simulated days:
enough for the 6 h (+-25 %) heartbeat to show at its rate (--days 0.03 once
held none and priced "heartbeat 0/day")."""


def _per(c: dict, k: float) -> dict:
    """counts() times k."""
    return {name: v * k for name, v in c.items()}


def _minus(a: dict, b: dict) -> dict:
    return {name: a[name] - b.get(name, 0) for name in a}


def model(board_name: str, cell_name: str, draws_per_day: float, *, days: float = 2.0, drawn_s: float = 60.0,
          progress=None) -> dict:
    """Price an average day at exactly `draws_per_day` draws and the
    firmware's own heartbeat rate, and the cell's life at that load.

    A day without draws comes from a run of max(days, MIN_PLAIN_DAYS) days
    with none; one draw's charge from a run of `days` with
    draws_to_simulate() draws, less a run as long without them (same seed:
    the same boots and heartbeats, up to the jitter the draws' random numbers
    move). The day is the first plus draws_per_day times the second, so a
    rate of 0.3 is priced at 0.3 and not at round(days x 0.3)."""
    p = load_profile(board_name)
    c = cell.CELLS[cell_name.upper()]
    n = draws_to_simulate(days, draws_per_day, drawn_s)
    plain_days = max(days, MIN_PLAIN_DAYS)

    def load(n: dict) -> dict:  # what the board drew, flash writes included
        return {**load_charge_uc(n, p), **flash_charge_uc(n, p)}

    def run(label: str, length: float, draws: int):
        def prog(t, total):
            if progress:
                progress(label, t, total)
        return simulate(board_name, length, draws, drawn_s, prog)

    plain = run("no draws", plain_days, 0)
    day = _per(counts(plain), 1 / plain_days)
    per_draw = None
    if n:
        with_draws = run("with draws", days, n)
        same_without = plain if days == plain_days else run(f"no draws, {days:g} day(s)", days, 0)
        per_draw = _per(_minus(counts(with_draws), counts(same_without)), 1 / n)
        day = {k: v + draws_per_day * per_draw.get(k, 0) for k, v in day.items()}
    charge = cell_charge_uc(load(day), 86400, p)
    total = sum(charge.values())  # uC a day
    avg_ua = total / 86400
    plain_secs = plain_days * 86400
    plain_total = sum(cell_charge_uc(load(counts(plain)), plain_secs, p).values())
    heartbeats = sum(1 for e in plain.of("burst") if e["event"] == "heartbeat")
    standing_uc = (p["deep_sleep_ua"] * p.supply_factor + p["boost_quiescent_ua"] + p["divider_ua"]
                   + p["sensor_ua"]) * plain_secs
    pulse = peak_cell_ma(p)
    life = cell.life(c, avg_ua, pulse, p["min_cell_v"])
    # the event log: records the firmware committed ("ds .. log SEQ EVENT") a day, and their share
    flash_uc = charge[FLASH_TERM]
    log = {"events_per_day": round(day["logged"], 2),
           "charge_per_event_mc": round(flash_uc / day["logged"] / 1000, 4) if day["logged"] else None,
           "share_pct": round(100 * flash_uc / total, 2), **log_ring(board_name, day["logged"])}
    asleep = day["deep_us"] + day["light_us"]
    asleep_pct = 100 * asleep / (asleep + day["awake_us"])
    return {
        "board": board_name,
        "cell": c.name,
        "draws_per_day": draws_per_day,
        "drawn_s": drawn_s,
        "days_simulated": days,
        "draws_simulated": n,
        "days_simulated_without_draws": plain_days,
        "avg_current_ua": round(avg_ua, 2),
        "charge_per_day_mc": round(total / 1000, 3),
        "charge_per_draw_mc": (round(sum(cell_charge_uc(load(per_draw), 0, p).values()) / 1000, 3)
                               if per_draw else None),
        "charge_per_heartbeat_mc": round((plain_total - standing_uc) / heartbeats / 1000, 3) if heartbeats else None,
        "breakdown_pct": {k: round(100 * v / total, 1) for k, v in charge.items()},
        "peak_cell_ma": round(pulse, 1),
        "min_cell_v": p["min_cell_v"],
        "life_years": round(life.years, 2),
        "end_reason": life.end_reason,
        "asleep_pct": round(asleep_pct, 3),
        "heartbeats_per_day": round(heartbeats / plain_days, 2),
        "event_log": log,
        "sources": p.sources,
        "_trace": life.trace,
    }


def end_of_life_years(trace: list[tuple[float, float, float]], threshold_v: float) -> float:
    """Where the loaded-voltage curve crosses `threshold_v`, interpolated
    between the two trace points around it (life() stops at the first step
    below it, up to a step later); the trace's end if it never does (capacity)."""
    for (y0, _, v0), (y1, _, v1) in zip(trace, trace[1:]):
        if v0 >= threshold_v > v1:
            return y0 + (y1 - y0) * (v0 - threshold_v) / (v0 - v1)
    return trace[-1][0]


def figure(result: dict):
    """The life plot (a matplotlib Figure): resting and loaded voltage over
    the cell's life, in days for a life under a year, else in years, and a
    marker where the loaded curve crosses what the supply needs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace = result["_trace"]
    end = end_of_life_years(trace, result["min_cell_v"])
    unit, k = ("days", 365.25) if end < 1 else ("years", 1.0)
    xs = [t[0] * k for t in trace]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(xs, [t[1] for t in trace], label="at rest")
    ax.plot(xs, [t[2] for t in trace], label=f"under the {result['peak_cell_ma']} mA load")
    ax.axhline(result["min_cell_v"], color="red", linestyle="--", label=f"supply needs {result['min_cell_v']} V")
    ax.axvline(end * k, color="grey", linestyle=":", label=f"end of life, {end * k:.3g} {unit}")
    ax.set_xlabel(unit)
    ax.set_ylabel("cell voltage (V)")
    life = f"{end * 365.25:.0f} days" if unit == "days" else f"{result['life_years']:.2f} years"
    ax.set_title(f"{result['board']} on a {result['cell']}, {result['draws_per_day']:g} draws/day: "
                 f"{life} ({result['end_reason']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def plot(result: dict, path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(result)
    try:
        fig.savefig(path)
    finally:
        plt.close(fig)
