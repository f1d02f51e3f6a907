"""Years on a coin cell: deep sleep, wake on the pin, battery and brownout
reporting, and `drawsense power` (on the firmware's simulated timeline)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from drawsense import boards
from drawsense.model import power
from drawsense.sim import timeline, vboard
from drawsense.sim.scenario import Scenario
from conftest import TEST_SECRET

DAY_US = 86_400_000_000


def holstered(days, board="esp32c3"):
    s = Scenario(name="holstered", description="", seed=1, duration_us=int(days * DAY_US), initial_out=False,
                 edges=[], battery=[(0, 2950)], source="test")
    return vboard.run(s, board, secret=TEST_SECRET)


@pytest.fixture(scope="module")
def holstered_day():
    return holstered(1.01)


def test_a_holstered_day_sends_only_heartbeats_and_sleeps(holstered_day):
    run = holstered_day
    bursts = timeline.bursts(run)
    # every 6 h +- 25 % (jittered, so the phase does not link the bursts)
    assert {b.event for b in bursts} == {"heartbeat"} and 3 <= len(bursts) <= 5
    gaps = [b.t_ms - a.t_ms for a, b in zip(bursts, bursts[1:])]
    assert all(0.75 * 6 * 3600e3 - 500 <= g <= 1.25 * 6 * 3600e3 + 500 for g in gaps) and len(set(gaps)) == len(gaps)
    assert {a["event"] for a in run.adverts()} == {"heartbeat"}
    st = run.stats
    asleep = st["deep_us"] + st["light_us"]
    assert 100 * st["deep_us"] / (asleep + st["awake_us"]) > 99.9
    # each heartbeat carries the battery
    assert {a["battery_mv"] for a in run.adverts()} == {2950}


def test_wake_path_reads_no_flash_before_its_advert(holstered_day):
    boots = [b for b in holstered_day.of("boot") if b["cause"] == "deep-sleep wake"]
    assert len(boots) >= 4
    radio = [e for e in holstered_day.of("radio") if e["on"]]
    assert radio and all(e["flash_reads"] == 0 for e in radio)


def test_draw_from_deep_sleep_latency(sim):
    run = sim("draw", "esp32c3")
    b = boards.load("esp32c3")
    wake = [e for e in run.of("boot") if e["cause"] == "deep-sleep wake"][0]
    # woken by the pin as the gun left, once the Hall switch's next sample saw it
    assert 1000 <= wake["t_ms"] <= 1000 + b["SENSOR_SAMPLE_MS"]
    lat = timeline.draw_latencies(run)
    boot_time = b["BOOT_MS"] + b["BLE_ACTIVATE_MS"]  # wake to radio ready
    assert lat[0] <= max(boot_time, b["DRAW_CONFIRM_MS"]) + b["SENSOR_SAMPLE_MS"] + 10
    assert lat[0] >= boot_time  # and it really did pay for the boot


def test_a_jolt_that_wakes_the_chip_is_not_a_draw(tmp_path):
    # The magnet moves for 40 ms: the Hall switch's 20 Hz sampling turns that
    # into one 50 ms pulse on the line (or none), which wakes the chip but is
    # shorter than the 60 ms (two samples) a draw needs.
    s = Scenario(name="jolt", description="", seed=1, duration_us=5_000_000, initial_out=False,
                 edges=[(1_000_000, True), (1_040_000, False)], battery=[(0, 3000)], source="test")
    run = vboard.run(s, "esp32c3", secret=TEST_SECRET)
    pulses = [e for e in run.of("line") if e["out"]]
    assert len(pulses) == 1  # this seed's sampling phase catches it
    assert [b["cause"] for b in run.of("boot")][1:] == ["deep-sleep wake"]
    assert run.adverts() == [] and run.of("state") == []


def test_low_battery_flag_turns_on_once_and_stays(sim):
    run = sim("low-battery")
    flags = [a["battery_low"] for a in run.adverts()]
    first = flags.index(True)
    assert 0 < first and all(flags[first:])
    on = [a for a in run.adverts() if a["battery_low"]][0]
    assert on["battery_mv"] == 2600 and on["event"] == "reminder"  # set after the burst, under load
    assert run.adverts()[-1]["battery_mv"] == 2680  # recovered at rest, still flagged


def test_brownout_is_reported_by_the_next_boot(sim):
    run = sim("brownout")
    assert run.stats["brownouts"] >= 1
    last_brownout = run.of("brownout")[-1]["t_ms"]
    after = [a for a in run.adverts() if a["t_ms"] > last_brownout]
    assert after and after[0]["event"] == "draw" and after[0]["brownout"] is True
    # a brownout is not a power loss: the counter never goes back
    counters = [a["counter"] for a in run.adverts()]
    assert counters == sorted(counters)


def test_listen_reports_battery(tmp_path):
    keys = tmp_path / "k.db"
    cmd = (f"{sys.executable} -m drawsense sim low-battery --keys {keys} --json | "
           f"{sys.executable} -m drawsense listen --air - --keys {keys} --json")
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300)
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [e["battery_mv"] for e in evs if e["event"] == "draw"] == [2900, 2750, 2600, 2680]
    assert [e["battery_low"] for e in evs if e["event"] == "draw"] == [False, False, False, True]
    fleet = subprocess.run([sys.executable, "-m", "drawsense", "fleet", "--keys", str(keys), "--json",
                            "--now", str(time.time() + evs[-1]["t_ms"] / 1000)],  # air plays from now on
                           capture_output=True, text=True)
    row = json.loads(fleet.stdout.splitlines()[0])
    assert row["battery_mv"] == 2680 and row["low"] is True


@pytest.mark.parametrize("board", boards.names())
def test_every_power_figure_has_a_source(board):
    p = power.load_profile(board)
    assert all(p.sources[k].strip() for k in power.FIGURES)


@pytest.fixture(scope="module")
def esp32c3_cr2032():
    return power.model("esp32c3", "CR2032", 10, days=1.0)


def test_power_model_breakdown_adds_up(esp32c3_cr2032):
    r = esp32c3_cr2032
    assert sum(r["breakdown_pct"].values()) == pytest.approx(100, abs=0.5)
    assert r["charge_per_draw_mc"] > r["charge_per_heartbeat_mc"] > 0
    # the day's charge is the average current over the day
    assert r["charge_per_day_mc"] == pytest.approx(r["avg_current_ua"] * 86_400 / 1000, rel=0.01)


def test_the_event_log_has_its_own_term_per_record_and_ring_life(esp32c3_cr2032):
    """Each draw and holster is a log record (plus the boot): its flash writes
    are priced from the erases and programmed bytes the virtual board counted,
    and the ring's records last so many years at this rate."""
    r = esp32c3_cr2032
    lg = r["event_log"]
    assert 19 <= lg["events_per_day"] <= 22  # 10 draws + 10 holsters + the boot
    assert r["breakdown_pct"][power.FLASH_TERM] == pytest.approx(lg["share_pct"], abs=0.1) and lg["share_pct"] > 0
    assert 0 < lg["charge_per_event_mc"] < r["charge_per_draw_mc"]
    held = boards.load("esp32c3")["LOG_SEGMENTS"] * 127
    assert lg["ring_events"] == held and lg["ring_years"] == pytest.approx(held / lg["events_per_day"] / 365.25, rel=0.01)
    assert "W25Q32JV" in r["sources"]["flash_erase_ms"]


def test_power_model_flash_term_grows_with_erases():
    p = power.load_profile("esp32c3")
    one = power.flash_charge_uc({"flash_erases": 1, "flash_prog_bytes": 0}, p)[power.FLASH_TERM]
    assert one == pytest.approx(45.0 / 1000 * (30.0 + 20.0) * 1000)  # 45 ms at 30 mA awake + 20 mA flash, in uC
    assert power.flash_charge_uc({"flash_erases": 2, "flash_prog_bytes": 1024}, p)[power.FLASH_TERM] > 2 * one


def test_power_model_larger_cell_and_fewer_draws_last_longer(esp32c3_cr2032):
    big = power.model("esp32c3", "CR2477", 10, days=1.0)
    few = power.model("esp32c3", "CR2032", 1, days=1.0)
    assert big["life_years"] > esp32c3_cr2032["life_years"]
    assert few["life_years"] > esp32c3_cr2032["life_years"]
    assert few["avg_current_ua"] < esp32c3_cr2032["avg_current_ua"]


def test_power_cli_json_and_plot(tmp_path):
    png = tmp_path / "life.png"
    r = subprocess.run([sys.executable, "-m", "drawsense", "power", "--board", "virtual", "--days", "1",
                        "--json", "--plot", str(png), "--years", "3"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for k in ("avg_current_ua", "charge_per_day_mc", "charge_per_draw_mc", "charge_per_heartbeat_mc",
              "life_years", "end_reason", "breakdown_pct", "lasts_horizon"):
        assert k in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([sys.executable, "-m", "drawsense", "power", "--cell", "AA"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "CR2032" in bad.stderr


def power_json(*args: str) -> dict:
    r = subprocess.run([sys.executable, "-m", "drawsense", "power", "--json", *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def rates():
    """drawsense power (esp32c3, CR2032, 2 simulated days) at a few draw rates."""
    return {rate: power_json("--draws-per-day", str(rate)) for rate in (0, 0.2, 0.3, 0.7)}


def test_power_prices_the_draw_rate_it_prints(rates):
    # 0.3 and 0.7 a day once both simulated round(2 x rate) = 1 draw and gave the same life
    assert rates[0.3]["life_years"] != rates[0.7]["life_years"]
    assert rates[0]["life_years"] > rates[0.2]["life_years"] > rates[0.3]["life_years"] > rates[0.7]["life_years"]
    base = rates[0]["charge_per_day_mc"]
    for rate in (0.2, 0.3, 0.7):
        r = rates[rate]
        assert r["draws_per_day"] == rate
        # an average day: the day without draws plus `rate` draws at the charge of one
        assert r["charge_per_day_mc"] == pytest.approx(base + rate * r["charge_per_draw_mc"], abs=0.01)
        assert r["heartbeats_per_day"] == rates[0]["heartbeats_per_day"]


def test_a_short_run_still_prices_the_heartbeat():
    # --days 0.03 (43 min) once held no heartbeat: "heartbeat 0/day" and a life 4x the real one
    short, default = power_json("--days", "0.03"), power_json()
    assert short["heartbeats_per_day"] == default["heartbeats_per_day"] >= 3
    assert short["life_years"] == pytest.approx(default["life_years"], rel=0.1)


def test_draws_that_do_not_fit_the_simulated_days_are_refused():
    r = subprocess.run([sys.executable, "-m", "drawsense", "power", "--days", "0.03", "--draws-per-day", "0.01",
                        "--drawn-s", "3600"], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (2, "drawsense: 0.03 simulated day(s) cannot hold 1 draw(s) of 3600 s: give "
                                           "more --days or a shorter --drawn-s\n")


def _result(trace, end_reason="brownout"):
    return {"_trace": trace, "min_cell_v": 2.0, "peak_cell_ma": 40.0, "board": "b", "cell": "CR2032",
            "draws_per_day": 10, "life_years": round(trace[-1][0], 2), "end_reason": end_reason}


def _marker_x(fig) -> float:
    [ax] = fig.axes
    [x] = {line.get_xdata()[0] for line in ax.lines if line.get_label().startswith("end of life")}
    return x


def test_life_plot_marks_the_crossing_in_days_for_a_short_life():
    import matplotlib.pyplot as plt  # the [plot] extra, which [test] includes

    # a 4-day life: the loaded curve crosses 2.0 V a quarter of the way from day 3 to day 4
    d = 1 / 365.25
    fig = power.figure(_result([(0, 3.0, 2.4), (3 * d, 2.9, 2.2), (4 * d, 2.8, 1.4)]))
    try:
        assert fig.axes[0].get_xlabel() == "days"
        assert _marker_x(fig) == pytest.approx(3.25)
    finally:
        plt.close(fig)
    fig = power.figure(_result([(0, 3.0, 2.4), (2.0, 2.9, 2.2), (3.0, 2.8, 1.8)]))
    try:
        assert fig.axes[0].get_xlabel() == "years"
        assert _marker_x(fig) == pytest.approx(2.5)
    finally:
        plt.close(fig)
