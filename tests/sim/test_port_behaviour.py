"""The virtual board behaves as MicroPython's esp32 and rp2 ports do, read from
their C source (tools/drawsense/sim/ports/*.toml cite file and commit),
and the firmware works under it. Each test here failed on the fakes as they
were before the port contract: they were kinder than the boards.

Run: pytest tests/sim/test_port_behaviour.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from drawsense import boards, paths
from drawsense.sim import scenario, timeline, vboard

from conftest import TEST_SECRET
from served import ServedBoard
from vbhelp import quiet, run_main, said, said_at


def crash_of(tmp_path, code, board, scen=None):
    with pytest.raises(vboard.FirmwareCrash) as e:
        run_main(tmp_path, code, scen or quiet(0.5), board=board)
    return str(e.value)


# ---------------------------------------------------------------- signatures

def test_esp32_pin_irq_has_no_hard_argument(tmp_path):
    code = "import machine\nmachine.Pin(3, machine.Pin.IN).irq(handler=lambda p: None, hard=True)"
    assert "TypeError" in crash_of(tmp_path, code, "esp32c3")
    run_main(tmp_path, code.replace("Pin(3", "Pin(15"), quiet(0.5), board="picow")  # rp2 takes it


@pytest.mark.parametrize("board", ["esp32c3", "picow"])
def test_rtc_takes_no_id(tmp_path, board):
    assert "TypeError" in crash_of(tmp_path, "import machine\nmachine.RTC(0)", board)


def test_ticks_add_refuses_half_the_period_either_way(tmp_path):
    # extmod/modtime.c time_ticks_add: OverflowError unless -2**29 < delta < 2**29
    assert "OverflowError" in crash_of(tmp_path, "import time\ntime.ticks_add(0, -2**29)", "virtual")
    run = run_main(tmp_path, "import time\nfrom dstest import say\nsay('ok', time.ticks_add(0, -2**29 + 1))", quiet(0.1))
    assert said(run, "ok") == [[(1 << 30) - (1 << 29) + 1]]


@pytest.mark.parametrize("board", ["esp32c3", "picow"])
def test_ble_address_mode_needs_the_radio_up_and_stopping_never_fails(tmp_path, board):
    assert "OSError" in crash_of(tmp_path, "import bluetooth\nbluetooth.BLE().config(addr_mode=1)", board)
    run = run_main(tmp_path, """
        import bluetooth
        from dstest import say
        b = bluetooth.BLE()
        b.gap_advertise(None)          # extmod/modbluetooth.c: stops, whatever the state
        b.active(True)
        b.config(addr_mode=1); a = b.config('mac')[1]
        b.config(addr_mode=1); c = b.config('mac')[1]
        say('addr', a != c)  # a new static random address on every call
    """, quiet(1), board=board)
    assert said(run, "addr") == [[True]]


def test_calendar_functions_the_esp32_port_has(tmp_path):
    run = run_main(tmp_path, """
        import time, machine
        from dstest import say
        t = time.time()
        lt = time.localtime(t)
        dt = machine.RTC().datetime()
        say('cal', len(lt), time.mktime(lt) == t, time.gmtime(0)[:3] == (2000, 1, 1), len(dt), dt[0])
        machine.RTC().datetime((2030, 6, 1, 0, 12, 0, 0, 0))
        say('set', time.localtime()[:4])
    """, quiet(0.5), board="esp32c3")
    assert said(run, "cal") == [[8, True, True, 8, 2025]]
    assert said(run, "set") == [[[2030, 6, 1, 12]]]


def test_rp2_light_sleep_has_a_ceiling(tmp_path):
    # ports/rp2/modmachine.c: the delay is 32-bit microseconds
    assert "ValueError" in crash_of(tmp_path, "import machine\nmachine.lightsleep(5000000)", "picow")


def test_the_firmware_gets_the_heap_it_was_promised(tmp_path):
    # 192 KiB free when main.py starts: the fakes (C on a board) live beside it
    run = run_main(tmp_path, "import gc\ngc.collect()\nfree = gc.mem_free()\nfrom dstest import say\nsay('free', free)",
                   quiet(0.1), board="esp32c3")
    [[free]] = said(run, "free")
    assert 180 * 1024 < free <= 192 * 1024


# ---------------------------------------------------------------- behaviours

def test_esp32_pin_irqs_are_soft(tmp_path):
    # Queued on the scheduler, run from time.sleep_ms: a handler may allocate
    # (on rp2 with hard=True the same handler is a MemoryError: test_irq).
    run = run_main(tmp_path, """
        import machine, time
        from dstest import say
        seen = []
        p = machine.Pin(3, machine.Pin.IN)
        p.irq(handler=lambda pin: seen.append((pin.value(), time.ticks_ms())))
        time.sleep_ms(3000)
        say('seen', len(seen))
    """, quiet(4, [1000, 2000]), board="esp32c3")
    assert said(run, "seen") == [[2]]


def test_esp32_light_sleep_with_a_gpio_wake_leaves_an_interrupt_storm(tmp_path):
    # machine_sleep_helper's gpio_wakeup_enable turns the pin's interrupt into
    # a level interrupt; with a handler on it, it fires for as long as the
    # level holds, the scheduler's 8 slots overflow and the rest are lost.
    run = run_main(tmp_path, """
        import machine, esp32
        from dstest import say
        p = machine.Pin(3, machine.Pin.IN)
        p.irq(handler=lambda pin: None)
        esp32.wake_on_gpio((p,), esp32.WAKEUP_ANY_HIGH)
        machine.lightsleep(5000)
        say('after')
    """, quiet(3, [1000, 1500]), board="esp32c3")
    storms = run.of("irq_storm")
    assert len(storms) == 1 and run.stats["irqs_lost"] > 0 and run.of("irq_lost")
    # the main task got nothing done until the level went away (the magnet came back)
    assert said_at(run, "after")[0] >= 1500


def test_esp32_deep_sleep_wake_swaps_the_pull(tmp_path, monkeypatch):
    # ESP-IDF's gpio_deep_sleep_wakeup_prepare: pull-down for a HIGH wake. A
    # reed to GND with a pull-up (this board's old front-end) then never wakes
    # the chip on a draw, and draws ~73 uA while holstered.
    root = tmp_path / "boards"
    shutil.copytree(paths.BOARDS, root)
    d = root / "esp32c3reed"
    d.mkdir()
    src = (paths.BOARDS / "esp32c3" / "board.py").read_text()
    for old, new in (('SENSOR_PULL = "none"', 'SENSOR_PULL = "up"'), ('SENSOR_FRONTEND = "hall"', 'SENSOR_FRONTEND = "reed"'),
                     ("SENSOR_SAMPLE_MS = 50", "SENSOR_SAMPLE_MS = 0"), ("DRAW_CONFIRM_MS = 60", "DRAW_CONFIRM_MS = 30"),
                     ('NAME = "esp32c3"', 'NAME = "esp32c3reed"')):
        assert old in src
        src = src.replace(old, new)
    (d / "board.py").write_text(src)
    monkeypatch.setattr(paths, "BOARDS", root)
    hall = vboard.run(scenario.load("draw"), "esp32c3", secret=TEST_SECRET)
    reed = vboard.run(scenario.load("draw"), "esp32c3reed", secret=TEST_SECRET)
    wakes = [e["cause"] for e in reed.of("wake")]
    assert "pin" not in wakes  # only the timer ever wakes it
    assert [e["event"] for e in reed.of("state")] == []  # and the 13 s run never sees the draw
    assert [e["event"] for e in hall.of("state")] == ["draw"]
    assert hall.stats["pull_uc"] == 0  # push-pull, no pull: nothing flows


def test_a_closed_reed_draws_through_its_pull_up(sim):
    # the Pico W keeps its pull-up in light sleep: V / R the whole time holstered
    run = vboard.run(quiet(10), "picow", secret=TEST_SECRET)
    b = boards.load("picow")
    assert run.stats["pull_uc"] == pytest.approx(b["IO_MV"] / b["PULL_KOHM"] * (10 - b["BOOT_MS"] / 1000), rel=0.02)


def test_esp32_ticks_restart_at_every_boot_and_the_rtc_runs_on(tmp_path):
    run = run_main(tmp_path, """
        import machine, time
        from dstest import say
        say('clk', time.ticks_ms(), time.time_ns() // 1000000)
        machine.deepsleep(10000)
    """, quiet(25), board="esp32c3")
    clk = said(run, "clk")
    assert len(clk) == 3
    off = boards.load("esp32c3")["RTC_DRIFT_PPM"]
    t0 = clk[0][0]
    assert [c[0] - t0 for c in clk] == [0, 0, 0]  # each boot's ticks start over
    rtc = [c[1] for c in clk]
    b = boards.load("esp32c3")
    # the deep-sleep timer and the RTC count the same slow clock: the RTC
    # says the sleep took exactly what was asked (plus the awake boot) ...
    assert all(abs(y - x - (10000 + b["BOOT_MS"])) <= 1 for x, y in zip(rtc, rtc[1:]))  # (1 ms: rounding)
    # ... while true time says the fast-running RC clock made it shorter
    wakes = [e["t_ms"] for e in run.of("wake")]
    sleeps = [e["t_ms"] for e in run.of("sleep")]
    true_ms = wakes[0] - sleeps[0]
    assert true_ms == pytest.approx(10000 * 1e6 / (1e6 + off), abs=1) and true_ms < 10000


def test_rp2_clock_starts_2021_at_every_boot_from_a_1970_epoch(tmp_path):
    # ports/rp2/main.c sets the RTC at boot; MICROPY_EPOCH_IS_1970
    run = run_main(tmp_path, """
        import time, machine
        from dstest import say
        say('rp2', time.localtime()[:3], time.gmtime(0)[:3], time.ticks_ms() < 1073739824 + 1000)
        machine.deepsleep(2000)
    """, quiet(4.5), board="picow")
    assert said(run, "rp2") == [[[2021, 1, 1], [1970, 1, 1], True]] * 2  # the same at both boots


def test_esp32_without_adc_calibration_boots_and_says_so(sim):
    run = sim("draw", "esp32c3", adc_calibrated=False)
    assert [e["event"] for e in run.of("state")] == ["draw"]
    said = [r["words"] for r in run.of("report") if r["words"][0] == "battery"]
    assert said and all(w == ["battery", "uncalibrated"] for w in said)  # once per boot
    # 0 mV on air: "not measured", which receivers show as unknown (None)
    assert {a["battery_mv"] for a in run.adverts()} == {None} and not any(a["battery_low"] for a in run.adverts())


def test_pico_w_gp29_reads_nothing_once_the_radio_is_up(tmp_path, sim):
    run = run_main(tmp_path, """
        import machine, bluetooth
        from dstest import say
        a = machine.ADC(29)
        before = a.read_u16()
        bluetooth.BLE().active(True)
        say('vsys', before > 10000, a.read_u16() < 1000)
    """, quiet(1), board="picow")
    assert said(run, "vsys") == [[True, True]]
    # so the Pico W board reports no battery rather than a flat one
    adv = sim("draw", "picow").adverts()
    assert adv and {a["battery_mv"] for a in adv} == {None} and not any(a["battery_low"] for a in adv)


# ---------------------------------------------------------------- the firmware on the C3

C3_SCENARIOS = ["draw", "vibration", "chatter", "draw-reholster", "slow-draw", "wiggle-reholster"]


@pytest.mark.parametrize("name", C3_SCENARIOS)
def test_the_firmware_on_the_c3_never_storms(sim, name):
    # (the only way an esp32 edge is lost here is a full scheduler queue in a storm)
    run = sim(name, "esp32c3")
    assert run.stats["irq_storms"] == 0 and run.of("irq_storm") == []


def test_c3_draw_within_boot_radio_confirm_and_one_sample(sim):
    run = sim("draw", "esp32c3")
    b = boards.load("esp32c3")
    assert [e["event"] for e in run.of("state")] == ["draw"]
    [lat] = timeline.draw_latencies(run)
    assert lat <= b["BOOT_MS"] + b["BLE_ACTIVATE_MS"] + b["DRAW_CONFIRM_MS"] + b["SENSOR_SAMPLE_MS"] + 10


def test_c3_vibration_is_no_draw_and_chatter_a_bounded_fault(sim):
    assert sim("vibration", "esp32c3").of("state") == []
    run = sim("chatter", "esp32c3")
    assert [e["event"] for e in run.of("state")] == ["fault", "none"]
    assert 0 < len(run.adverts()) <= 60


def test_c3_wakes_on_the_draw_and_on_the_reholster(sim):
    run = sim("draw-reholster", "esp32c3")
    assert [e["event"] for e in run.of("state")] == ["draw", "holster"]
    pin_wakes = [e for e in run.of("wake") if e["cause"] == "pin"]
    assert len(pin_wakes) >= 2
    # the holster wake came with the gun back in (after 6 s), not from the timer
    assert any(w["t_ms"] > 6000 for w in pin_wakes)


# ---------------------------------------------------------------- a served board

@pytest.fixture
def served_c3(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    b = ServedBoard(root, board="esp32c3", events=tmp_path / "events.log")
    b.events = tmp_path / "events.log"
    yield b
    b.close()
    assert not b.error, b.error


def _mpremote(board, *args, timeout=15):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.pty, *args],
                          capture_output=True, timeout=timeout)


def test_served_c3_refuses_a_hard_irq_and_answers_in_crlf(served_c3):
    p = _mpremote(served_c3, "exec", "import machine; machine.Pin(3, machine.Pin.IN).irq(handler=lambda p: None, "
                                     "hard=True)")
    assert p.returncode != 0 and b"TypeError" in p.stdout + p.stderr
    p = _mpremote(served_c3, "exec", "print(1)")
    assert p.returncode == 0 and p.stdout == b"1\r\n"


def test_served_board_runs_asyncio_in_real_time(served_c3):
    # asyncio's C task queue reads the interpreter's own ticks: a served
    # board's time module must agree with it
    p = _mpremote(served_c3, "exec", "import asyncio, time\nasync def f():\n    t = time.ticks_ms()\n"
                                     "    await asyncio.sleep_ms(200)\n    print(time.ticks_diff(time.ticks_ms(), t))\n"
                                     "asyncio.run(f())")
    assert p.returncode == 0, p.stderr
    assert 195 <= int(p.stdout) < 1000


def test_served_board_clock_runs_while_code_runs(served_c3):
    p = _mpremote(served_c3, "exec", "import time\nt = time.ticks_ms()\nn = 0\nwhile n < 300000:\n    n += 1\n"
                                     "print(time.ticks_diff(time.ticks_ms(), t), time.localtime()[0])")
    assert p.returncode == 0, p.stderr
    ms, year = p.stdout.split()
    assert int(ms) > 0 and int(year) >= 2025


def test_served_c3_sleeps_deep_in_real_time_and_deaf(tmp_path):
    # main.py deep-sleeps at power-on: the board wakes when the wall clock
    # says so (not at once, its clock an hour ahead), and mpremote, which
    # cannot reach a sleeping chip, gets its answer only after the wake
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.py").write_text(
        "import machine\nif machine.reset_cause() != machine.DEEPSLEEP_RESET:\n    machine.deepsleep(1500)\n")
    t0 = time.monotonic()
    b = ServedBoard(root, board="esp32c3", events=tmp_path / "events.log")
    try:
        ev = tmp_path / "events.log"
        while not ev.exists() or '"mode": "deep"' not in ev.read_text():
            assert time.monotonic() - t0 < 10, "the board never went to sleep"
            time.sleep(0.02)
        # (resume: no soft reset, so reset_cause() still says how the board last woke)
        p = _mpremote(b, "resume", "exec", "import machine\nprint(machine.reset_cause())")
        took = time.monotonic() - t0
    finally:
        b.close()
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) == 4 and took >= 1.4
