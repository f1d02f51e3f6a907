"""Never silent: a fault anywhere in the firmware is reported and the sensor
comes back by itself, with the next draw on air (issue 9, point 1).

The virtual board injects each fault once (vboard.run(faults=...), or
`drawsense sim --inject KIND@MS`): a flash write the chip refuses, a radio
call that raises, a loop that hangs. Run: pytest tests/firmware/test_recovery.py
"""

from __future__ import annotations

import shutil

import pytest

from drawsense import boards, paths
from drawsense.sim import timeline, vboard
from drawsense.sim.scenario import Scenario

from conftest import FIRMWARE, TEST_ID, TEST_SECRET
from vbhelp import quiet, reports, run_main


@pytest.fixture
def field_boards(tmp_path, monkeypatch):
    """The boards, plus "picowfield": the Pico W as a field build would set
    it, with its watchdog on (the development board has it off: board.py)."""
    root = tmp_path / "boards"
    shutil.copytree(paths.BOARDS, root)
    src = (root / "picow" / "board.py").read_text()
    for old, new in (("WDT_MS = 0", "WDT_MS = 8000"), ('NAME = "picow"', 'NAME = "picowfield"')):
        assert old in src
        src = src.replace(old, new)
    (root / "picowfield").mkdir()
    (root / "picowfield" / "board.py").write_text(src)
    monkeypatch.setattr(paths, "BOARDS", root)


def _gun_out_from_1s(seconds: float) -> Scenario:
    return Scenario(name="draw-and-hold", description="", seed=1, duration_us=int(seconds * 1e6),
                    initial_out=False, edges=[(1_000_000, True)], battery=[(0, 3000)], source="test")


# (fault, when it is injected in ms): at the first flash write (boot), on the
# draw's first advert, and in the middle of the draw's burst
FAULTS = [("flash", 0), ("radio", 1000), ("hang", 3000)]


@pytest.mark.parametrize("board", ["esp32c3", "picow"])
@pytest.mark.parametrize("kind,at_ms", FAULTS)
def test_the_sensor_reports_a_fault_recovers_and_the_draw_goes_out(field_boards, board, kind, at_ms):
    if kind == "hang" and board == "picow":
        board = "picowfield"  # only a watchdog ends a hang
    b = boards.load(board)
    run = vboard.run(_gun_out_from_1s(b["WDT_MS"] / 1000 + 10), board, secret=TEST_SECRET, device_id=TEST_ID,
                     faults=[(kind, at_ms)])
    assert run.stats["faults_injected"] == 1
    [inject] = run.of("inject")
    # reported where the bench reads it: the firmware's own fault line, or
    # (a hang runs no code that could say so) the watchdog and the next boot
    if kind == "hang":
        [wdt] = run.of("wdt")
        assert wdt["t_ms"] - inject["t_ms"] <= b["WDT_MS"]
        assert any(f.get("cause") == "watchdog" for f in run.of("firmware"))
    else:
        [fault] = run.of("fault")
        assert fault["error"].startswith("OSError")
    # and a draw is on air after it
    after = [bu for bu in timeline.bursts(run) if bu.event == "draw" and bu.t_ms >= inject["t_ms"] and bu.adverts]
    assert after, [(bu.event, bu.t_ms) for bu in timeline.bursts(run)]
    # never one counter value (the CCM nonce) for two payloads, across the reset
    payload_of: dict = {}
    for a in run.adverts():
        assert payload_of.setdefault(a["counter"], a["data"]) == a["data"], a["counter"]


def test_without_a_watchdog_a_hang_is_silent_for_good():
    # the idealised virtual board has none (it light-sleeps an hour at a
    # time): the limit the watchdog boards are there for
    run = vboard.run(_gun_out_from_1s(20), "virtual", secret=TEST_SECRET, device_id=TEST_ID,
                     faults=[("hang", 3000)])
    assert run.of("wdt") == [] and run.of("firmware")[-1]["t_ms"] < 3000
    assert all(bu.t_ms < 3000 for bu in timeline.bursts(run))


@pytest.mark.parametrize("board", ["esp32c3", "picowfield"])
def test_a_quiet_holstered_day_never_trips_the_watchdog(field_boards, board):
    # the loop feeds it often enough through every way it waits
    run = vboard.run(Scenario(name="holstered", description="", seed=1, duration_us=7 * 3600 * 10**6,
                              initial_out=False, edges=[], battery=[(0, 3000)], source="test"),
                     board, secret=TEST_SECRET, device_id=TEST_ID)
    assert run.of("wdt") == [] and run.of("fault") == []
    assert {bu.event for bu in timeline.bursts(run)} == {"heartbeat"}


@pytest.mark.parametrize("stopped,reset", [(False, True), (True, False)])
def test_a_firmware_stopped_on_the_bench_is_not_reset_under_it(tmp_path, stopped, reset):
    # The bench stops the firmware with ^C and works at the REPL. esp32's
    # watchdog cannot be stopped, but hw.stopped() sets it to an hour: two
    # minutes at the "REPL" pass without a reset; without it, 30 s do not.
    run = run_main(tmp_path, f"""
        import board, hw, time, machine
        print("ds", 0, "up", machine.reset_cause())
        if machine.reset_cause() != machine.WDT_RESET:
            h = hw.Hardware(board)
            if {stopped}:
                hw.stopped()
            time.sleep_ms(120000)
            print("ds", 0, "still", "up")
    """, quiet(130), board="esp32c3", with_firmware=FIRMWARE)
    assert bool(run.of("wdt")) == reset
    assert bool(reports(run, "still")) == (not reset)
    if stopped:
        assert [r["words"][1:] for r in reports(run, "watchdog")] == [["relaxed", "3600"]]


# ---------------------------------------------------------------- counters end cleanly (issue 9, point 4)

@pytest.mark.parametrize("board", ["esp32c3", "virtual"])
def test_a_counter_that_runs_out_never_repeats_and_then_sends_nothing(board):
    # 64 values below 2**32: four 16-value epochs, fewer than the draw and
    # its reminders need. On the C3 the counter crosses deep sleep in the
    # 32-bit RTC record, where 2**32 used to come back as 0.
    run = vboard.run(_gun_out_from_1s(80), board, secret=TEST_SECRET, device_id=TEST_ID,
                     counter_start=2**32 - 64)
    adverts = run.adverts()
    # every advert opens with a counter from the last 64 (one that wrapped
    # to 0 would be under the same key a nonce the device used long ago)
    assert all("counter" in a for a in adverts), "an advert from outside the counter's range: it wrapped"
    payload_of: dict = {}
    for a in adverts:
        assert payload_of.setdefault(a["counter"], a["data"]) == a["data"], a["counter"]
    counters = sorted(payload_of)
    assert counters and counters[0] >= 2**32 - 64 and counters[-1] <= 2**32 - 2
    said = [r["words"] for r in run.of("report") if r["words"][0] == "counter"]
    assert said and said[0] == ["counter", "exhausted"]
    # nothing on air once it ran out (but the last payload's own burst, at most 3 s)
    exhausted_at = next(r["t_ms"] for r in run.of("report") if r["words"][0] == "counter")
    assert max(a["t_ms"] for a in adverts) < exhausted_at + 3000


def test_a_damaged_rtc_record_is_refused(tmp_path):
    run = run_main(tmp_path, """
        import rtcstate
        rec = rtcstate.Record(1, 1, 100, 356, -1, -1, 5000, 2900, bytes(32), bytes(8)).pack()
        ok = rtcstate.load(rec) is not None
        flipped = bytearray(rec); flipped[10] ^= 1
        bad_state = rtcstate.Record(7, 1, 100, 356, -1, -1, 5000, 2900, bytes(32), bytes(8)).pack()
        try:
            rtcstate.Record(1, 1, 2**32, 2**32, -1, -1, 0, 0, None, None).pack()
            wraps = True
        except ValueError:
            wraps = False
        print("ds", 0, "rec", ok, rtcstate.load(bytes(flipped)) is None, rtcstate.load(bad_state) is None,
              rtcstate.load(b"") is None, wraps)
    """, quiet(0.2), board="esp32c3", with_firmware=FIRMWARE)
    assert reports(run, "rec")[0]["words"][1:] == ["True", "True", "True", "True", "False"]


def test_a_fault_at_every_boot_backs_off_instead_of_resetting_in_a_loop():
    # The radio fails on the first advert of five boots in a row: the
    # sensor waits 1, 2, 4, 8, 16 s before each reset (the count kept in
    # RTC memory), then sends the draw once the radio works again.
    run = vboard.run(_gun_out_from_1s(60), "esp32c3", secret=TEST_SECRET, device_id=TEST_ID,
                     faults=[("radio", 1000)] * 5)
    faults = [f["t_ms"] for f in run.of("fault")]
    assert len(faults) == 5
    gaps = [b - a for a, b in zip(faults, faults[1:])]
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps
    draws = [bu for bu in timeline.bursts(run) if bu.event == "draw" and bu.adverts and bu.t_ms > faults[-1]]
    assert draws


def test_one_long_draw_is_acted_on_once_though_the_c3_clock_drifts():
    # the C3 keeps the draw time on its RC clock through deep sleep (1 %
    # fast here): twelve minutes of reminders still match the draw acted on
    from drawsense import protocol
    from drawsense.receive.receiver import Receiver
    from rxhelp import OneDeviceStore

    run = vboard.run(_gun_out_from_1s(720), "esp32c3", secret=TEST_SECRET, device_id=TEST_ID)
    rx = Receiver(OneDeviceStore(TEST_SECRET), wall_t0=1_700_000_000.0)
    acted = []
    for a in run.adverts():
        ev = rx.feed(protocol.mfr_of(bytes.fromhex(a["data"])) or b"", t_ms=a["t_ms"])
        if ev is not None and rx.should_act(ev):
            acted.append((ev.event, round(ev.t_ms)))
    assert len([b for b in timeline.bursts(run) if b.event == "reminder"]) > 50
    assert [e for e, _ in acted] == ["draw"], acted
