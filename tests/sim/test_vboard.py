"""The virtual board is strict, like a board: unknown names and wrong
signatures raise; the radio keeps BLE's rules; resets keep RTC memory."""

from __future__ import annotations

import pytest

from drawsense.sim import vboard

from vbhelp import quiet, run_main, said, said_at


def crash_of(tmp_path, code, board="esp32c3"):
    with pytest.raises(vboard.FirmwareCrash) as e:
        run_main(tmp_path, code, quiet(0.5), board=board)
    return str(e.value)


@pytest.mark.parametrize("code,error", [
    ("import machine\nmachine.Pin(3).irq(handlr=None)", "TypeError"),
    ("import machine\nmachine.Pin(3, machine.Pin.IN, 99)", "ValueError"),
    ("import machine\nmachine.no_such_thing()", "AttributeError"),
    ("import time\ntime.ticks_diff('a', 1)", "TypeError"),
    ("import time\ntime.monotonic()", "AttributeError"),
    ("import bluetooth\nbluetooth.BLE().gap_scan(1000)", "does not model BLE.gap_scan"),
    ("import bluetooth\nbluetooth.BLE().gap_advertise(20000, b'x')", "OSError"),  # not active
])
def test_fakes_reject_what_a_board_rejects(tmp_path, code, error):
    assert error in crash_of(tmp_path, code)


def test_advert_longer_than_31_bytes_is_refused(tmp_path):
    msg = crash_of(tmp_path, """
        import bluetooth
        b = bluetooth.BLE(); b.active(True)
        b.gap_advertise(20000, bytes(32), connectable=False)
    """)
    assert "OSError" in msg and "22" in msg


def test_interval_below_the_board_floor_is_refused(tmp_path):
    msg = crash_of(tmp_path, """
        import bluetooth
        b = bluetooth.BLE(); b.active(True)
        b.gap_advertise(10000, b'\\x02\\x01\\x06', connectable=False)
    """)
    assert "OSError" in msg


def test_esp32_module_exists_only_on_esp32_boards(tmp_path):
    assert "ImportError" in crash_of(tmp_path, "import esp32", board="picow")
    run = run_main(tmp_path, "import esp32\nfrom dstest import say\nsay('ok', esp32.WAKEUP_ANY_HIGH)", quiet(0.1))
    assert said(run, "ok") == [[True]]  # esp32.WAKEUP_ANY_HIGH is MP_ROM_TRUE


def test_advertising_events_follow_interval_plus_adv_delay(tmp_path):
    run = run_main(tmp_path, """
        import bluetooth, time
        b = bluetooth.BLE(); b.active(True)
        b.gap_advertise(100000, b'\\x02\\x01\\x06', connectable=False)
        time.sleep_ms(5000)
        b.gap_advertise(None)
        time.sleep_ms(1000)
    """, quiet(7))
    t = [a["t_ms"] for a in run.adverts()]
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert 45 <= len(t) <= 51
    assert all(100 <= g <= 110 for g in gaps)
    assert len(set(round(g, 3) for g in gaps)) > 10  # advDelay really varies
    assert run.of("radio")[-1]["on"] is False


def test_deep_sleep_restarts_main_and_keeps_rtc_memory(tmp_path):
    run = run_main(tmp_path, """
        import machine
        from dstest import say
        rtc = machine.RTC()
        n = int(rtc.memory() or b"0") + 1
        rtc.memory(str(n).encode())
        say("n", n, machine.reset_cause())
        machine.deepsleep(1000)
    """, quiet(4.5))
    assert said(run, "n") == [[1, 1], [2, 4], [3, 4], [4, 4], [5, 4]]  # PWRON, then DEEPSLEEP
    assert run.stats["deep_us"] >= 4_000_000


def test_deep_sleep_wakes_on_the_sensor_pin(tmp_path):
    run = run_main(tmp_path, """
        import machine, esp32, time
        from dstest import say
        p = machine.Pin(3, machine.Pin.IN, machine.Pin.PULL_UP)
        say("up", p.value())
        if machine.reset_cause() != machine.DEEPSLEEP_RESET:
            esp32.wake_on_gpio((p,), esp32.WAKEUP_ANY_HIGH)
            machine.deepsleep()
        time.sleep_ms(10000)
    """, quiet(5, [1500]))
    assert said(run, "up") == [[0], [1]]
    # the Hall switch passes the change on at its next 50 ms sample, then the board boots
    assert 1500 + 50 <= said_at(run, "up")[1] <= 1500 + 50 + 50


def test_watchdog_resets_a_stuck_firmware(tmp_path):
    run = run_main(tmp_path, """
        import machine
        from dstest import say
        say("cause", machine.reset_cause())
        machine.WDT(timeout=1000)
        machine.lightsleep(100000)
    """, quiet(2.5))
    assert said(run, "cause") == [[1], [3], [3]]


def test_unconfigured_pull_leaves_the_sensor_floating(tmp_path):
    # Firmware that forgets the pull-up sees noise, not a clean "out".
    run = run_main(tmp_path, """
        import machine, time
        from dstest import say
        p = machine.Pin(15, machine.Pin.IN)
        vals = set()
        n = 0
        while n < 50:
            vals.add(p.value()); time.sleep_us(97); n += 1
        say("vals", len(vals))
    """, quiet(1, [0.001]), board="picow")  # a reed switch: nothing drives the open line
    assert said(run, "vals") == [[2]]
