"""A coin-cell model: lithium manganese dioxide (Li/MnO2, "CR") 3 V cells.

What it answers: how much of a cell is left given a voltage the device
reported (percent), how far a radio pulse pulls the cell down at a given depth
of discharge (loaded_v), and how long a device lasts before either the cell is
empty or, earlier and more often, its own radio pulse drags the supply under
the MCU's brownout threshold and it resets (life).

The model is deliberately simple: a resting-voltage curve against depth of
discharge (dod, 0 = fresh, 1 = rated capacity delivered to the cut-off
voltage), and an internal resistance against dod, so that

    V_loaded = V_rest(dod) - I_pulse * R(dod)

Every figure below carries its source. Read the caveats before trusting a
number to better than ~20 %:

* Manufacturer resistance figures are measured with pulses of about 2 s (the
  Energizer CR2032 datasheet's pulse test is a 100 ohm load for 2 s; TI's
  "Bluetooth low energy and coin cells III" blog, e2e.ti.com, 2010, notes the
  plots are 2-second pulses). A BLE advert draws for well under a millisecond
  at a time, and part of such a short pulse comes from the cell's double-layer
  capacitance, so the real droop is usually smaller: the model is on the
  pessimistic side for short pulses, and about right for a ~100 ms radio-on
  stretch (an ESP32 boot plus burst).
* Cells differ by vendor and batch: TI SWRA349 found effective capacities
  from ~50 % to over 100 % of rating across six CR2032 vendors at the same
  15 mA / 30 mA pulse loads.
* Temperature is not modelled (all figures are room temperature, 20-23 C).
  Cold raises the resistance; a holster on a belt in winter sees it.
* "Resting" voltage here is the closed-circuit voltage under the datasheets'
  light standard load (15 kohm ~ 0.2 mA for a CR2032), which is what a
  device reading its supply between pulses sees. A fresh cell's true open-
  circuit voltage is higher (3.15-3.35 V, Renata designer's guide FAQ) and
  falls to the plateau within the first percent or two of use.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# --------------------------------------------------------------------------
# The shared Li/MnO2 curve shape.
#
# Depth of discharge (fraction of rated capacity) -> resting volts. Same
# chemistry, same shape: the CR2032/CR2450/CR2477 datasheet discharge curves
# are all a flat plateau near 2.9-3.0 V and a knee in the last quarter, so the
# three cells share this shape scaled to their own capacity (an assumption:
# the larger cells' curves are, if anything, flatter for longer).
_LIMNO2_CURVE: tuple[tuple[float, float], ...] = (
    # Fresh open-circuit 3.15-3.35 V (Renata 3V Lithium designer's guide, FAQ
    # "Which values of open circuit voltage do lithium cells typically show?",
    # room temperature, no load); we take 3.20 V, settling to the plateau by
    # 2 % (our estimate: the surface charge is gone after a few mAh).
    (0.00, 3.20),
    (0.02, 3.02),
    # Plateau: ~3.0 V falling slowly to ~2.9 V. Estimated from the CR2032
    # discharge curve at 15 kohm (= 190 uA), 23 C, end voltage 2.0 V (Sanyo
    # "Coin Type Primary Lithium Batteries" catalogue, CR2032 temperature
    # characteristics figure) and the Energizer CR2032 datasheet curve at
    # 15 kohm (both: estimate read from the curve, +-30 mV).
    (0.10, 2.98),
    (0.30, 2.95),
    (0.50, 2.92),
    (0.65, 2.88),
    # Knee: "voltage drops sharply after it reaches 2.8 V (after it has
    # delivered about 170 mAh)" of 240 mAh, i.e. dod ~0.71 (Duracell CR2032
    # datasheet, as summarised in interactive-matter.eu "Driving circuits from
    # a CR2032 lithium coin cell", 2009; light continuous load).
    (0.72, 2.80),
    # Down the knee to the rated cut-off: estimate read from the same 15 kohm
    # curves (Energizer CR2032, Sanyo CR2032): 2.7 V ~80 %, 2.5 V ~90 %.
    (0.80, 2.70),
    (0.88, 2.55),
    (0.94, 2.35),
    # Rated capacity is defined to 2.0 V (Energizer Lithium Coin Handbook,
    # form 12006-A, "Capacity Ratings: rating drain to 2V"; Panasonic and
    # Sanyo CR2032 "end voltage 2.0V").
    (1.00, 2.00),
)

# Depth of discharge -> internal resistance (ohm), CR2032.
_CR2032_R: tuple[tuple[float, float], ...] = (
    # "ESR about 18 to 20 ohms ... quite flat up to 150 mAh, there it reaches
    # about 20 ohms. At 170 mAh it reaches something like 30 ohms" (Duracell
    # CR2032 datasheet internal-resistance curve, 240 mAh cell, as read by
    # interactive-matter.eu, 2009; manufacturer IR is a ~2 s pulse figure).
    # TI SWRA349 Fig. 6 (CR2032 internal resistance vs mAh, measured under
    # its 15/30 mA pulse test) shows the same flat-then-rising shape; the
    # Cave Pearl Project (2023) uses it: an 8 mA load with a 2.775 V BOD
    # limits usable capacity to "the region where battery IR is less than
    # 30 ohms".
    (0.00, 18.0),
    (0.30, 18.5),
    (0.62, 20.0),   # 150 of 240 mAh
    (0.71, 30.0),   # 170 of 240 mAh
    # Beyond the last published point the curves turn almost vertical; the
    # Energizer CR2032 datasheet gives "typical internal resistance 10 to
    # 40 ohm" over normal life. Our estimate for the steep end (no figure
    # found): it doubles every ~10 % of capacity and ends ~150 ohm at 2.0 V.
    (0.80, 40.0),
    (0.90, 65.0),
    (0.95, 95.0),
    (1.00, 150.0),
)


def _scaled(points: tuple[tuple[float, float], ...], k: float) -> tuple[tuple[float, float], ...]:
    return tuple((x, round(y * k, 2)) for x, y in points)


@dataclass(frozen=True)
class Cell:
    name: str
    capacity_mah: float
    cutoff_v: float
    curve: tuple[tuple[float, float], ...]   # (dod 0..1, resting volts), dod rising, volts falling
    r_ohm: tuple[tuple[float, float], ...]   # (dod 0..1, internal resistance ohm), rising
    self_discharge_per_year: float           # fraction of rated capacity lost per year
    sources: str = field(default="", compare=False)


CELLS: dict[str, Cell] = {
    "CR2032": Cell(
        "CR2032",
        # 225 mAh to 2.0 V at the 0.2 mA standard discharge (Panasonic CR2032;
        # REFERENCE.md "~225-240 mAh to 2.0 V at 0.2 mA"). Energizer rates it
        # 235 mAh (15 kohm to 2.0 V, 21 C), Duracell 240 mAh: we take the low
        # end, since pulsed loads deliver less than the light-load rating
        # (TI SWRA349: 30 mA vs 15 mA peaks cost ~9 % on average).
        capacity_mah=225.0,
        cutoff_v=2.0,   # Energizer Lithium Coin Handbook 12006-A: ratings are "drain to 2V"
        curve=_LIMNO2_CURVE,
        r_ohm=_CR2032_R,
        # ~1 %/year at room temperature (Energizer and Panasonic Li/MnO2 coin
        # datasheets, "self discharge ~1 % / year", e.g. the Energizer CR2450
        # spec table reproduced by etechnophiles.com); Rayovac's FAQ says
        # ~1.5 %/year, in storage and in use.
        self_discharge_per_year=0.01,
        sources="capacity: Panasonic CR2032 225 mAh @0.2 mA to 2.0 V (Energizer 235 mAh @15 kohm, "
                "Duracell 240 mAh); cut-off 2.0 V: Energizer Lithium Coin Handbook 12006-A; curve: "
                "Sanyo/Energizer CR2032 15 kohm discharge curves (read by eye), Duracell knee at "
                "2.8 V/170 mAh; fresh OCV 3.15-3.35 V: Renata designer's guide FAQ; R: Duracell CR2032 "
                "IR curve (18-20 ohm flat to 150 mAh, ~30 ohm at 170 mAh, 2 s pulses), TI SWRA349 "
                "Fig. 6; end-of-life R beyond 170 mAh is an estimate; self-discharge ~1 %/yr "
                "(Energizer/Panasonic), Rayovac FAQ 1.5 %/yr",
    ),
    "CR2430": Cell(
        "CR2430",
        # The commercial holster sensor's cell ("1 year with normal use",
        # CR2430: Axon FCC draft manual AX1012, REFERENCE.md), here so the
        # comparison is like for like. ~280-300 mAh to 2.0 V (REFERENCE.md);
        # 285 mAh is the middle, not one vendor's figure: check your cell's
        # datasheet before relying on it.
        capacity_mah=285.0,
        cutoff_v=2.0,
        curve=_LIMNO2_CURVE,
        # Same 24.5 mm face as the CR2450 (the thinner cell has less cathode,
        # not less area): the same ESTIMATE, the CR2032 curve scaled by
        # electrode face area. No vendor figure found.
        r_ohm=_scaled(_CR2032_R, (20.0 / 24.5) ** 2),
        self_discharge_per_year=0.01,   # ~1 %/yr, as the other Li/MnO2 coin cells here (assumption)
        sources="capacity: ~280-300 mAh to 2.0 V (REFERENCE.md), 285 mAh the middle (ESTIMATE); cut-off "
                "2.0 V; curve: shared Li/MnO2 shape (assumption); R: ESTIMATE, as CR2450 (same face); "
                "self-discharge ~1 %/yr (assumption, as the other Li/MnO2 cells)",
    ),
    "CR2450": Cell(
        "CR2450",
        # 620 mAh typical (Energizer CR2450 datasheet spec table, to 2.0 V, as
        # reproduced by etechnophiles.com; Panasonic CR2450 620 mAh, Digi-Key
        # P340-ND listing). Microchip's AVR Butterfly guide quotes a 550 mAh
        # cell at 0.2 mA, max 3 mA continuous / 15 mA pulse.
        capacity_mah=620.0,
        cutoff_v=2.0,
        curve=_LIMNO2_CURVE,
        # No vendor IR-vs-dod curve found for the CR2450. Estimate: the
        # CR2032 curve scaled by electrode face area, (20 mm / 24.5 mm)^2 =
        # 0.67 -> ~12 ohm fresh. Measure your cells before relying on it.
        r_ohm=_scaled(_CR2032_R, (20.0 / 24.5) ** 2),
        self_discharge_per_year=0.01,   # Energizer CR2450 spec table: "Self Discharge ~1% / year"
        sources="capacity: Energizer CR2450 620 mAh to 2.0 V (Panasonic CR2450 620 mAh); cut-off 2.0 V; "
                "curve: shared Li/MnO2 shape from the CR2032 curves (assumption); R: ESTIMATE, CR2032 "
                "curve x (20/24.5)^2 electrode area; self-discharge ~1 %/yr (Energizer CR2450 table)",
    ),
    "CR2477": Cell(
        "CR2477",
        # 1000 mAh (Panasonic CR2477, standard discharge to 2.0 V); the size
        # is sold at 850-1000 mAh depending on vendor (batteryequivalents.com
        # summary of Panasonic/Sony/Renata datasheets; Renata's is CR2477N).
        capacity_mah=1000.0,
        cutoff_v=2.0,
        curve=_LIMNO2_CURVE,
        # Same 24.5 mm face as the CR2450; the thicker cathode pellet adds
        # ionic path, so no better than a CR2450. Estimate, same scaling as
        # CR2450 (no vendor figure found). RuuviTag (CR2477) reports TX droop
        # rebooting the MCU near end of life (REFERENCE.md), the effect
        # life() models.
        r_ohm=_scaled(_CR2032_R, (20.0 / 24.5) ** 2),
        self_discharge_per_year=0.01,   # "annual self-discharge rate of less than 1%" (batteryequivalents.com, CR2477)
        sources="capacity: Panasonic CR2477 1000 mAh to 2.0 V (vendors 850-1000 mAh); cut-off 2.0 V; "
                "curve: shared Li/MnO2 shape (assumption); R: ESTIMATE, as CR2450; self-discharge "
                "<1 %/yr",
    ),
}


# --------------------------------------------------------------------------
def _interp(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear y(x) over points sorted by x, clamped at both ends."""
    xs = [p[0] for p in points]
    if x <= xs[0]:
        return points[0][1]
    if x >= xs[-1]:
        return points[-1][1]
    i = bisect.bisect_right(xs, x)
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _cell(cell: Cell | str) -> Cell:
    if isinstance(cell, Cell):
        return cell
    try:
        return CELLS[cell.upper()]
    except KeyError:
        raise ValueError(f"unknown cell {cell!r} (known: {', '.join(CELLS)})") from None


def resting_v(cell: Cell | str, dod: float) -> float:
    """Resting (light-load) cell voltage at depth of discharge dod (0..1, clamped)."""
    return _interp(_cell(cell).curve, dod)


def resistance(cell: Cell | str, dod: float) -> float:
    """Internal resistance (ohm) at depth of discharge dod (0..1, clamped)."""
    return _interp(_cell(cell).r_ohm, dod)


def loaded_v(cell: Cell | str, dod: float, load_ma: float) -> float:
    """Terminal voltage during a pulse of load_ma: resting - I * R."""
    c = _cell(cell)
    return resting_v(c, dod) - load_ma / 1000.0 * resistance(c, dod)


def percent(cell: Cell | str, resting_mv: float) -> float:
    """State of charge 0..100 from a resting voltage in mV (the curve read
    backwards, clamped). On the plateau 10 mV is worth ~5-10 %: a single
    reading is coarse there; a trend over days says more."""
    c = _cell(cell)
    v = resting_mv / 1000.0
    pts = c.curve
    if v >= pts[0][1]:
        return 100.0
    if v <= pts[-1][1]:
        return 0.0
    # volts fall as dod rises: walk the segments
    for (d0, v0), (d1, v1) in zip(pts, pts[1:]):
        if v1 <= v <= v0:
            dod = d0 if v0 == v1 else d0 + (d1 - d0) * (v0 - v) / (v0 - v1)
            return max(0.0, min(100.0, (1.0 - dod) * 100.0))
    return 0.0  # unreachable for a monotonic curve


# --------------------------------------------------------------------------
@dataclass
class Life:
    years: float
    end_reason: str            # "brownout" or "capacity"
    dod_at_end: float
    trace: list[tuple[float, float, float]] = field(default_factory=list, repr=False)  # (years, resting V, loaded V)


def life(cell: Cell | str, avg_ua: float, pulse_ma: float, brownout_v: float, *, step_days: float = 1.0) -> Life:
    """Discharge the cell at avg_ua (the device's average current, pulses
    included) plus self-discharge, one step_days at a time. Life ends where
    the voltage under a pulse_ma pulse first falls below brownout_v (the device
    resets under its own radio pulse; "brownout"), or where the rated capacity
    is used up ("capacity"), whichever comes first. If even a fresh cell
    cannot hold brownout_v under the pulse, life is 0 years ("brownout").

    The capacity loss of pulsing itself (TI SWRA349: ~9 % between 15 and
    30 mA peaks) is not modelled beyond the brownout rule."""
    c = _cell(cell)
    if step_days <= 0:
        raise ValueError("step_days must be positive")
    if avg_ua < 0 or pulse_ma < 0:
        raise ValueError("currents must be non-negative")
    per_day = avg_ua / 1000.0 * 24.0 / c.capacity_mah + c.self_discharge_per_year / 365.25   # dod per day
    dod, days = 0.0, 0.0
    trace: list[tuple[float, float, float]] = []
    while True:
        rest, loaded = resting_v(c, dod), loaded_v(c, dod, pulse_ma)
        trace.append((days / 365.25, rest, loaded))
        if loaded < brownout_v:
            return Life(days / 365.25, "brownout", dod, trace)
        if dod >= 1.0:
            return Life(days / 365.25, "capacity", 1.0, trace)
        step = step_days
        if dod + per_day * step > 1.0:      # land exactly on empty
            step = (1.0 - dod) / per_day
        days += step
        dod = min(1.0, dod + per_day * step)
