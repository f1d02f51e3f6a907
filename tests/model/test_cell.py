"""The coin-cell model (drawsense.model.cell): shape of the curves, the inverse
(percent), and the physics of life(): what ends it and what shortens it.
Expected values are derived from the model's own inputs (capacity, curve,
resistance), never copied from its outputs."""

from __future__ import annotations

import math

import pytest

from drawsense.model import cell as C

CELLS = list(C.CELLS.values())
DODS = [i / 200 for i in range(201)]


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_tables_are_well_formed_and_sourced(c):
    for table in (c.curve, c.r_ohm):
        xs = [x for x, _ in table]
        assert xs[0] == 0.0 and xs[-1] == 1.0 and xs == sorted(set(xs))
    assert c.curve[-1][1] == c.cutoff_v            # rated capacity is defined to the cut-off
    assert 0 < c.self_discharge_per_year < 0.05
    assert c.capacity_mah > 0 and c.sources
    assert C.CELLS[c.name] is c


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_resting_voltage_falls_and_resistance_rises_with_discharge(c):
    v = [C.resting_v(c, d) for d in DODS]
    r = [C.resistance(c, d) for d in DODS]
    assert all(a > b for a, b in zip(v, v[1:])), "resting voltage must fall strictly"
    assert all(a <= b for a, b in zip(r, r[1:])), "resistance must never fall"
    assert r[-1] > r[0]


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_curve_has_a_plateau_and_a_knee(c):
    # flat ~2.9-3.0 V over the middle of life ...
    assert all(2.85 <= C.resting_v(c, d) <= 3.05 for d in DODS if 0.05 <= d <= 0.65)
    mid_slope = (C.resting_v(c, 0.1) - C.resting_v(c, 0.6)) / 0.5
    end_slope = (C.resting_v(c, 0.8) - C.resting_v(c, 1.0)) / 0.2
    assert end_slope > 10 * mid_slope                # ... and a knee near the end
    # resistance: nearly flat, then steep at the very end
    assert C.resistance(c, 0.6) < 1.2 * C.resistance(c, 0.0)
    assert C.resistance(c, 1.0) > 3 * C.resistance(c, 0.6)


def test_cr2032_resistance_in_the_published_range():
    assert 15 <= C.resistance("CR2032", 0.0) <= 22
    assert C.resistance("CR2032", 0.9) >= 30


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_percent_round_trips_the_curve(c):
    for d in DODS:
        mv = C.resting_v(c, d) * 1000
        assert C.percent(c, mv) == pytest.approx((1 - d) * 100, abs=1e-6)


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_percent_clamps_and_is_monotonic(c):
    top, bottom = c.curve[0][1] * 1000, c.curve[-1][1] * 1000
    assert C.percent(c, top + 500) == 100.0
    assert C.percent(c, bottom - 500) == 0.0
    assert C.percent(c, 0) == 0.0
    ps = [C.percent(c, mv) for mv in range(1800, 3400, 5)]
    assert all(a <= b for a, b in zip(ps, ps[1:]))


def test_loaded_voltage_is_resting_minus_ir_drop():
    c = C.CELLS["CR2032"]
    for d in (0.0, 0.5, 0.9):
        assert C.loaded_v(c, d, 0) == C.resting_v(c, d)
        assert C.loaded_v(c, d, 20) == pytest.approx(C.resting_v(c, d) - 0.020 * C.resistance(c, d))
    # same current, deeper discharge: more droop (R rises) on a lower base
    assert C.loaded_v(c, 0.9, 20) < C.loaded_v(c, 0.5, 20)


def test_cell_names_are_case_insensitive_and_unknown_rejected():
    assert C.resting_v("cr2032", 0.3) == C.resting_v(C.CELLS["CR2032"], 0.3)
    with pytest.raises(ValueError, match="unknown cell"):
        C.resting_v("LR44", 0.1)


# ---------------------------------------------------------------- life() --

def _capacity_years(c: C.Cell, avg_ua: float) -> float:
    """Years to use the rated capacity at avg_ua plus self-discharge (from the inputs)."""
    per_year = avg_ua / 1000 * 24 * 365.25 / c.capacity_mah + c.self_discharge_per_year
    return 1 / per_year


def _first_brownout_dod(c: C.Cell, pulse_ma: float, brownout_v: float) -> float:
    """Smallest dod (to 1e-5) at which R(dod)*I pulls the rest voltage under brownout."""
    lo, hi = 0.0, 1.0
    if C.resting_v(c, 0) - pulse_ma / 1000 * C.resistance(c, 0) < brownout_v:
        return 0.0
    if C.resting_v(c, 1) - pulse_ma / 1000 * C.resistance(c, 1) >= brownout_v:
        return math.inf
    while hi - lo > 1e-5:   # loaded voltage falls monotonically with dod
        mid = (lo + hi) / 2
        if C.resting_v(c, mid) - pulse_ma / 1000 * C.resistance(c, mid) < brownout_v:
            hi = mid
        else:
            lo = mid
    return hi


def test_cr2032_at_10ua_with_small_pulses_lasts_years():
    c = C.CELLS["CR2032"]
    cap_years = _capacity_years(c, 10)
    assert cap_years > 2                                  # 225 mAh / 0.24 mAh a day
    # 5 mA pulses (an nRF52-class radio, ~4.8 mA TX) and a 1.8 V brownout
    lf = C.life(c, 10, 5, 1.8)
    assert lf.years > 2
    assert lf.years <= cap_years + 1 / 365
    # either the capacity ran out, or the droop got it in the last few percent
    assert lf.dod_at_end >= _first_brownout_dod(c, 5, 1.8) - 0.01
    assert lf.dod_at_end > 0.9


def test_no_pulse_and_low_brownout_ends_on_capacity_at_the_rated_time():
    c = C.CELLS["CR2032"]
    lf = C.life(c, 10, 0, 1.5)
    assert lf.end_reason == "capacity" and lf.dod_at_end == 1.0
    assert lf.years == pytest.approx(_capacity_years(c, 10), rel=1e-6)


def test_30ma_pulses_with_a_27v_brownout_end_by_brownout_not_capacity():
    c = C.CELLS["CR2032"]
    lf = C.life(c, 10, 30, 2.7)
    assert lf.end_reason == "brownout"
    assert lf.years < _capacity_years(c, 10) / 2
    # where it ends is where the model's own V - I*R crosses 2.7 V: with ~18 ohm
    # a 30 mA pulse droops ~0.54 V, so a bare CR2032 cannot hold 2.7 V even fresh
    expect = _first_brownout_dod(c, 30, 2.7)
    assert lf.dod_at_end == pytest.approx(expect, abs=0.01)
    assert C.resting_v(c, 0) - 0.030 * C.resistance(c, 0) < 2.7
    assert lf.years == 0.0


def test_brownout_mid_life_matches_the_model_crossing():
    """A case that ends part way: 15 mA pulses, 2.5 V brownout."""
    for c in CELLS:
        lf = C.life(c, 10, 15, 2.5, step_days=0.5)
        expect = _first_brownout_dod(c, 15, 2.5)
        assert 0.3 < expect < 0.95
        assert lf.end_reason == "brownout"
        per_day = 10 / 1000 * 24 / c.capacity_mah + c.self_discharge_per_year / 365.25
        assert lf.dod_at_end == pytest.approx(expect, abs=per_day * 0.5 + 1e-9)
        assert lf.years == pytest.approx(expect / per_day / 365.25, abs=0.5 / 365.25 + 1e-9)
        assert C.loaded_v(c, lf.dod_at_end, 15) < 2.5


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_more_pulse_current_shortens_life(c):
    years = [C.life(c, 10, ma, 2.2, step_days=2).years for ma in (1, 5, 10, 15, 20, 25)]
    assert all(a >= b for a, b in zip(years, years[1:]))
    assert years[0] > years[-1]


@pytest.mark.parametrize("c", CELLS, ids=lambda c: c.name)
def test_higher_brownout_voltage_shortens_life(c):
    years = [C.life(c, 10, 10, bv, step_days=2).years for bv in (1.8, 2.0, 2.2, 2.4, 2.6)]
    assert all(a >= b for a, b in zip(years, years[1:]))
    assert years[0] > years[-1]


def test_higher_average_current_shortens_life_and_bigger_cells_last_longer():
    lives = [C.life("CR2032", ua, 5, 2.0).years for ua in (5, 10, 20, 50)]
    assert all(a > b for a, b in zip(lives, lives[1:]))
    sizes = [C.life(n, 10, 5, 2.0, step_days=2).years for n in ("CR2032", "CR2430", "CR2450", "CR2477")]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_trace_is_for_plotting():
    lf = C.life("CR2032", 10, 10, 2.2, step_days=7)
    t = [p[0] for p in lf.trace]
    assert t[0] == 0.0 and t == sorted(t) and t[-1] == pytest.approx(lf.years)
    assert all(loaded <= rest for _, rest, loaded in lf.trace)
    assert lf.trace[-1][2] < 2.2 and all(p[2] >= 2.2 for p in lf.trace[:-1])


def test_step_size_barely_moves_the_answer():
    a = C.life("CR2032", 10, 10, 2.3, step_days=0.25).years
    b = C.life("CR2032", 10, 10, 2.3, step_days=5).years
    assert abs(a - b) < 6 / 365.25


def test_bad_arguments():
    with pytest.raises(ValueError):
        C.life("CR2032", 10, 5, 2.0, step_days=0)
    with pytest.raises(ValueError):
        C.life("CR2032", -1, 5, 2.0)
