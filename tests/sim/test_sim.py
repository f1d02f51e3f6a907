"""Scenario tests: the unmodified firmware on the real MicroPython VM, on the
virtual board, in virtual time. Assertions are on what a camera would see
(adverts on air) and on the device's states."""

from __future__ import annotations

import pytest

from drawsense import boards
from drawsense.sim import scenario, timeline, vboard
from drawsense.sim.scenario import Scenario

from conftest import CONFIG

DRAW_CONFIRM_MS = CONFIG.DRAW_CONFIRM_MS  # the virtual board keeps the defaults
HOLSTER_CONFIRM_MS = CONFIG.HOLSTER_CONFIRM_MS
ADV_DELAY_MAX_MS = 10  # BLE's advDelay, 0-10 ms (Core Vol 6, Part B, 4.4.2.2.1)


def last_edge_before(run, t_ms):
    return max(e["t_ms"] for e in run.of("pin") if e["t_ms"] <= t_ms)


def test_default_draw_is_one_draw_on_air_within_confirm_plus_adv_delay(sim):
    run = sim("draw")
    assert [e["event"] for e in run.of("state")] == ["draw"]
    draw_bursts = [b for b in timeline.bursts(run) if b.event == "draw"]
    assert len(draw_bursts) == 1
    settled = last_edge_before(run, draw_bursts[0].t_ms)
    first = draw_bursts[0].first_ms
    assert first - settled <= DRAW_CONFIRM_MS + ADV_DELAY_MAX_MS
    # and not before the sensor has been out for the whole confirm time
    assert first - settled >= DRAW_CONFIRM_MS


def test_draw_adverts_carry_event_and_time_since_draw(sim):
    run = sim("draw")
    burst = [b for b in timeline.bursts(run) if b.event == "draw"][0]
    settled = last_edge_before(run, burst.t_ms)
    assert {a["event"] for a in burst.adverts} == {"draw"}
    for a in burst.adverts:
        # the payload is refreshed every REFRESH_MS, so it lags at most that much
        assert 0 <= (a["t_ms"] - settled) - a["since_draw_ms"] <= CONFIG.REFRESH_MS + ADV_DELAY_MAX_MS
    # a 3 s burst at the 20 ms floor plus 0-10 ms advDelay: 100..150 events
    assert 100 <= len(burst.adverts) <= 160
    assert burst.adverts[-1]["t_ms"] - burst.t_ms <= CONFIG.BURST_MS


def test_reminder_bursts_while_drawn(sim):
    run = sim("draw")  # drawn 12 s: one reminder at +10 s +- 10 % (jitter)
    rem = [b for b in timeline.bursts(run) if b.event == "reminder"]
    assert len(rem) == 1
    assert rem[0].adverts and {a["event"] for a in rem[0].adverts} == {"reminder"}
    assert 9_000 <= rem[0].adverts[0]["since_draw_ms"] <= 11_020


def test_radio_is_quiet_between_bursts(sim):
    run = sim("draw")
    on = [e for e in run.of("radio")]
    assert on[-1]["on"] is False
    b = [b for b in timeline.bursts(run)]
    # nothing on air between the end of the draw burst and the reminder
    gap = [a for a in run.adverts() if b[0].t_ms + 3_011 < a["t_ms"] < b[1].t_ms]
    assert gap == []


def test_vibration_makes_no_draw_and_no_advert(sim):
    run = sim("vibration")
    assert run.of("state") == []
    assert run.adverts() == []
    assert len(run.of("pin")) > 100  # the sensor really did move


def test_chatter_is_a_fault_with_bounded_adverts_and_a_sleeping_device(sim):
    run = sim("chatter")
    states = run.states()
    assert "FAULT" in states
    assert "DRAWN" not in states
    edges = len(run.of("pin"))
    assert edges > 1000
    # one short fault burst, not one per edge: 1 s at >= 20 ms spacing
    assert len(run.adverts()) <= 60
    assert {a["event"] for a in run.adverts()} == {"fault"}
    # the storm does not keep the device awake: far fewer wake-ups than edges
    assert run.stats["wakeups"] < edges / 10
    summary = timeline.summary(run)
    assert summary["asleep_pct"] > 85


def test_chatter_recovers_once_the_sensor_settles(sim):
    run = sim("chatter")
    last = run.of("state")[-1]
    assert last["state"] == "HOLSTERED"
    quiet_from = run.of("pin")[-1]["t_ms"]
    assert last["t_ms"] >= quiet_from + 4_800  # FAULT_CLEAR_MS of calm, sampled every 100 ms


def test_draw_and_reholster(sim):
    run = sim("draw-reholster")
    assert [(e["state"], e["event"]) for e in run.of("state")] == [("DRAWN", "draw"), ("HOLSTERED", "holster")]
    hol = run.of("state")[1]
    assert hol["t_ms"] - last_edge_before(run, hol["t_ms"]) == pytest.approx(HOLSTER_CONFIRM_MS, abs=1)
    assert [b.event for b in timeline.bursts(run)] == ["draw", "holster"]


def test_slow_draw_is_one_draw_after_the_flicker(sim):
    run = sim("slow-draw")
    draws = [e for e in run.of("state") if e["event"] == "draw"]
    assert len(draws) == 1
    assert draws[0]["t_ms"] >= run.of("pin")[-1]["t_ms"] + DRAW_CONFIRM_MS - 1


def test_wiggles_do_not_make_a_second_draw(sim):
    run = sim("wiggle-reholster")
    assert [e["event"] for e in run.of("state")] == ["draw", "holster"]


@pytest.mark.parametrize("board", ["esp32c3", "picow", "virtual"])
def test_every_board_detects_the_draw(sim, board):
    run = sim("draw", board)
    assert [e["event"] for e in run.of("state")] == ["draw"]
    lat = timeline.draw_latencies(run)
    b = boards.load(board)
    confirm = b.values.get("DRAW_CONFIRM_MS", DRAW_CONFIRM_MS)
    # a sampling front-end (a Hall switch) passes the draw on at its next sample
    sample = b["SENSOR_SAMPLE_MS"]
    if b["WAKE"] == "gpio":
        # from deep sleep: the chip boots and brings its radio up first
        bound = max(b["BOOT_MS"] + b["BLE_ACTIVATE_MS"], confirm) + sample + ADV_DELAY_MAX_MS
    else:  # light sleep, radio ready: only the debounce
        bound = confirm + sample + ADV_DELAY_MAX_MS
    assert len(lat) == 1 and lat[0] <= bound
    assert min(a["interval_us"] for a in run.adverts()) >= b["ADV_MIN_INTERVAL_US"]


@pytest.mark.parametrize("wrap_after_ms", [1_005, 1_020, 6_000])
def test_tick_wraparound_during_a_draw_changes_nothing(sim, wrap_after_ms):
    # the draw starts at 1000 ms and is confirmed at ~1032 ms: wrap inside it
    run = sim("draw-reholster", wrap_after_ms=wrap_after_ms)
    assert [e["event"] for e in run.of("state")] == ["draw", "holster"]
    assert timeline.draw_latencies(run) == timeline.draw_latencies(sim("draw-reholster"))


def test_holstered_hour_sends_nothing_and_sleeps(sim):
    hour = Scenario(name="holstered-hour", description="", seed=1, duration_us=3_600_000_000,
                    initial_out=False, edges=[], battery=[(0, 3000)], source="test")
    run = sim(hour)
    assert run.adverts() == []
    assert timeline.summary(run)["asleep_pct"] > 99.9


def test_booting_with_the_gun_out_reports_a_draw(sim):
    # e.g. a brownout in the middle of a draw burst: the reboot must not
    # swallow the draw
    out = Scenario(name="boot-drawn", description="", seed=1, duration_us=5_000_000,
                   initial_out=True, edges=[], battery=[(0, 3000)], source="test")
    run = sim(out)
    assert run.of("firmware")[0]["state"] == "DRAWN"
    assert [e["event"] for e in run.of("state")] == ["draw"]
    assert {a["event"] for a in run.adverts()} == {"draw"}


def test_hard_irq_handler_runs_under_heap_lock_in_every_edge(sim):
    # The virtual board calls hard IRQ handlers inside micropython.heap_lock():
    # any allocation there would have crashed these runs.
    run = sim("chatter")
    assert run.stats["irqs"] > 40


def test_csv_capture_runs_like_a_scenario(tmp_path, sim):
    csv = tmp_path / "capture.csv"
    rows = ["Time [s],D0", "0.000000,0", "0.500000,1", "0.500400,0", "0.500900,1", "3.000000,1"]
    csv.write_text("\n".join(rows) + "\n")
    run = sim(scenario.load(str(csv)))
    assert [e["event"] for e in run.of("state")] == ["draw"]


def test_firmware_crash_is_reported_not_hidden(firmware_copy):
    (firmware_copy / "debounce.py").write_text(
        "import dataclasses  # CPython-only\n" + (firmware_copy / "debounce.py").read_text())
    with pytest.raises(vboard.FirmwareCrash) as e:
        vboard.run(scenario.load("draw"), "esp32c3", firmware_dir=firmware_copy)
    assert "dataclasses" in str(e.value) or "dataclasses" in e.value.detail


def _toml(tmp_path, text):
    f = tmp_path / "s.toml"
    f.write_text(text)
    return scenario.load(str(f))


SEG = '[[segment]]\nstate = "{}"\nduration_ms = {}\n'


def test_a_redraw_during_the_holster_burst_is_as_quick_as_the_first_draw(tmp_path, sim):
    # drawn again 100 ms into the holster burst, while the radio is on
    s = _toml(tmp_path, SEG.format("holstered", 1000) + SEG.format("drawn", 3000) + SEG.format("holstered", 1100)
              + SEG.format("drawn", 4000))
    run = sim(s)
    assert [e["event"] for e in run.of("state")] == ["draw", "holster", "draw"]
    lat = timeline.draw_latencies(run)
    assert len(lat) == 2
    assert lat[1] <= DRAW_CONFIRM_MS + 5 + ADV_DELAY_MAX_MS  # 5 ms naps while the radio is on


def test_reminders_keep_coming_while_drawn(tmp_path, sim):
    run = sim(_toml(tmp_path, SEG.format("holstered", 1000) + SEG.format("drawn", 35_000)))
    rem = [b for b in timeline.bursts(run) if b.event == "reminder"]
    since = [b.adverts[0]["since_draw_ms"] for b in rem]
    # every 10 s +- 10 %, each period drawn afresh (no fixed cadence to link them by)
    gaps = [b - a for a, b in zip([0] + since, since)]
    assert len(rem) >= 3 and all(9_000 <= g <= 11_020 for g in gaps) and len(set(gaps)) == len(gaps)


def test_reminders_resume_after_a_fault_while_drawn(tmp_path, sim):
    s = _toml(tmp_path, SEG.format("holstered", 1000) + SEG.format("drawn", 3000)
              + '[[segment]]\nstate = "chatter"\nduration_ms = 2000\n' + SEG.format("drawn", 20_000))
    run = sim(s)
    states = [(e["state"], e["event"]) for e in run.of("state")]
    assert states[:2] == [("DRAWN", "draw"), ("FAULT", "fault")] and states[-1] == ("DRAWN", "none")
    cleared = run.of("state")[-1]["t_ms"]
    assert [b for b in timeline.bursts(run) if b.event == "reminder" and b.t_ms >= cleared]


# ------------------------------------------ what a scenario says it shows, it shows, on every board (issue 13)

@pytest.mark.parametrize("board", boards.names())
@pytest.mark.parametrize("name", scenario.builtin_names())
def test_every_builtin_scenario_shows_what_it_expects_on_every_board(name, board, capsys):
    """`drawsense sim NAME --board B` exits 0 only when the run shows the
    scenario's `expect` (its description's "Expect: ..."): the brownout
    scenario used to have no brownout on the Pico W and exit 0."""
    from drawsense import cli

    assert scenario.load(name).expect, f"{name}.toml says nothing it expects"
    code = cli.main(["sim", name, "--board", board])
    out, err = capsys.readouterr()
    assert code == 0, err.splitlines()[-1]


@pytest.mark.parametrize("board", boards.names())
def test_brownout_is_one_reset_and_one_draw_on_every_board(sim, board):
    run = sim("brownout", board)
    assert len(run.of("brownout")) == 1
    s = timeline.summary(run)
    assert (s["draws"], s["draw_reports"], s["brownouts"]) == (1, 2, 1)
    # the draw goes out again after the reset; flagged where RTC memory survives a brownout
    after = [a for a in run.adverts() if a["t_ms"] > run.of("brownout")[0]["t_ms"] and a["event"] == "draw"]
    assert after and all(a["brownout"] for a in after) == (boards.load(board)["PORT"] in ("esp32", "virtual"))


def test_the_summary_counts_a_draw_reported_again_after_a_reset_once(sim):
    import io

    f = io.StringIO()
    timeline.write_text(sim("brownout", "picow"), f)
    assert "\n1 draw(s) (reported again after 1 reset), 1 holster(s), 0 fault(s), 1 brownout(s);" in f.getvalue()


def test_a_run_that_does_not_show_what_its_scenario_expects_exits_1(tmp_path, capsys):
    from drawsense import cli

    toml = tmp_path / "sag.toml"
    toml.write_text('expect = { draws = 1, brownouts = 1 }\n'
                    '[[segment]]\nstate = "holstered"\nduration_ms = 500\n'
                    '[[segment]]\nstate = "drawn"\nduration_ms = 2000\nbattery_mv = 2100\n')
    assert cli.main(["sim", str(toml), "--board", "picow"]) == 1  # 2100 - 150 mV: above the Pico W's 1800
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == ("drawsense: scenario 'sag' on picow did not do what it expects: "
                                    "brownouts = 1, the run had 0")
    toml.write_text(toml.read_text().replace("brownouts = 1", "brownouts = 0"))
    assert cli.main(["sim", str(toml), "--board", "picow"]) == 0
    toml.write_text('expect = { draw = 1 }\n[[segment]]\nstate = "drawn"\nduration_ms = 500\n')
    assert cli.main(["sim", str(toml)]) == 2
    assert "sag.toml:1: expect: unknown key 'draw': did you mean 'draws'?" in capsys.readouterr().err


def test_the_summary_counts_deep_sleep_wakes(sim):
    """The esp32c3 wakes from deep sleep on the pin (the draw) and on a timer
    (the reminder): both are wake-ups in the summary (issue 13 saw '0
    wake-ups' after a deep-sleep wake; it holds here since cc528d8)."""
    import io

    run = sim("draw", "esp32c3")
    wakes = [e["cause"] for e in run.of("wake")]
    assert wakes == ["pin", "timer"] and len(run.of("reset")) == 2
    f = io.StringIO()
    timeline.write_text(run, f)
    assert ", 2 wake-ups, " in f.getvalue()
