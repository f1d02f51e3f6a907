"""Power fails during every flash write of a run, one at a time: no counter
value ever goes on air twice, and the sensor keeps working.

The virtual board's flash is a littlefs2 volume on a block device; at the
Nth program/erase it writes half the data and the power goes (RAM and RTC
memory lost, flash as torn). The firmware here reserves 4 counter values at a
time instead of 256, so one run makes several reservations to interrupt.
"""

from __future__ import annotations

import pytest

from drawsense import protocol
from drawsense.sim import scenario, vboard
from conftest import TEST_ID, TEST_SECRET


@pytest.fixture(scope="module")
def small_reserve_firmware(tmp_path_factory):
    import shutil

    from conftest import FIRMWARE

    d = tmp_path_factory.mktemp("fw") / "firmware"
    shutil.copytree(FIRMWARE, d)
    cfg = d / "config.py"
    text = cfg.read_text()
    assert "COUNTER_RESERVE = const(256)" in text
    cfg.write_text(text.replace("COUNTER_RESERVE = const(256)", "COUNTER_RESERVE = const(4)"))
    return d


TWO_DRAWS = """
name = "two-draws"
[[segment]]
state = "holstered"
duration_ms = 1000
[[segment]]
state = "drawn"
duration_ms = 3000
[[segment]]
state = "holstered"
duration_ms = 3000
[[segment]]
state = "drawn"
duration_ms = 3000
[[segment]]
state = "holstered"
duration_ms = 3000
"""
SECOND_DRAW_MS = 7000


@pytest.fixture(scope="module")
def two_draws(tmp_path_factory):
    f = tmp_path_factory.mktemp("scen") / "two-draws.toml"
    f.write_text(TWO_DRAWS)
    return scenario.load(str(f))


def run_with_cut(fw, scen, cut_at):
    return vboard.run(scen, "esp32c3", firmware_dir=fw, secret=TEST_SECRET, device_id=TEST_ID, cut_at=cut_at)


def on_air(run):
    """(counter, event, t_ms) of each distinct payload, in the order they went on air."""
    known = protocol.KnownDevice(TEST_SECRET)
    seen, out = set(), []
    for a in run.adverts():
        if a["data"] not in seen:
            seen.add(a["data"])
            f = known.open(bytes.fromhex(a["data"]))
            out.append((f.counter, f.event, a["t_ms"]))
    return out


def test_power_cut_at_every_flash_write(small_reserve_firmware, two_draws):
    clean = run_with_cut(small_reserve_firmware, two_draws, 0)
    writes = clean.stats["flash_ops"]
    assert writes >= 9, "the run should reserve counters several times"
    assert [e for _, e, _ in on_air(clean)].count("draw") == 12  # 2 bursts x 6 payloads
    for k in range(1, writes + 1):
        run = run_with_cut(small_reserve_firmware, two_draws, k)
        assert run.stats["power_cuts"] == 1, f"cut {k}: power was not cut"
        frames = on_air(run)
        counters = [c for c, _, _ in frames]
        assert len(set(counters)) == len(counters), f"cut {k}: a counter went on air twice: {counters}"
        assert counters == sorted(counters), f"cut {k}: counter went backwards: {counters}"
        # it boots again and carries on: the second draw is on air whatever
        # the cut interrupted (a cut during its own burst reboots the sensor
        # with the gun out, which reports the draw again)
        cut_at_ms = run.of("power")[0]["t_ms"]
        assert [b for b in run.of("boot") if b["t_ms"] >= cut_at_ms and b["cause"] == "power-on"], \
            f"cut {k}: no reboot"
        assert any(e == "draw" and t > SECOND_DRAW_MS for _, e, t in frames), f"cut {k}: stopped working"
