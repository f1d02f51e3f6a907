"""The virtual board's fakes on the zephyr port (tools/drawsense/sim/ports/
zephyr.toml, read from ports/zephyr at the contract's commit): tuple pin and
ADC ids, the printing reset_cause, no light/deep sleep or RTC, time.sleep_ms
as the idle wait, addr_mode refused, and gap_advertise's connection record
per start, stock and with the product's advertiser patch
(boards/nrf52840/board.py ZEPHYR_ADV_PATCH).

The tests run a small program on a minimal zephyr board written here, so they
depend on no product board. Run: pytest tests/sim/test_zephyr_fakes.py
"""

from __future__ import annotations

import shutil

import pytest

from drawsense import paths
from drawsense.sim import vboard

from vbhelp import quiet, run_main, said

BOARD = '''
NAME = "{name}"
TITLE = "zephyr test board"
PORT = "zephyr"
CHIP = "nrf52840"
SENSOR_PIN = ("gpio0", 3)
SENSOR_PULL = "none"
SENSOR_FRONTEND = "hall"
SENSOR_PART = "test Hall switch"
SENSOR_SAMPLE_MS = 50
HOLSTERED_LEVEL = 0
SENSOR_POLL_MS = 25
PULL_KOHM = 13
IO_MV = 3000
RTC_DRIFT_PPM = 0
WAKE = "idle"
ADV_MIN_INTERVAL_US = 20000
ZEPHYR_ADV_PATCH = {patch}
BLE_ACTIVATE_MS = 0
BOOT_MS = 0
BATTERY_ADC_PIN = ("adc", 0)
BATTERY_DIVIDER_NUM = 1
BATTERY_DIVIDER_DEN = 1
BATTERY_LOW_MV = 2200
BATTERY_CLEAR_MV = 2900
BROWNOUT_MV = 1700
WDT_MS = 0
MPY_ARCH = "armv7emsp"
STUBS = ""
'''


@pytest.fixture
def zboards(tmp_path, monkeypatch):
    """boards/ plus 'zpatched' and 'zstock', two minimal zephyr boards."""
    root = tmp_path / "boards"
    shutil.copytree(paths.BOARDS, root)
    for name, patch in (("zpatched", True), ("zstock", False)):
        (root / name).mkdir()
        (root / name / "board.py").write_text(BOARD.format(name=name, patch=patch))
    monkeypatch.setattr(paths, "BOARDS", root)
    return root


ERR = '''
import machine, time, bluetooth, gc, micropython
from dstest import say
def err(f):
    try:
        f()
        return "ok"
    except Exception as e:
        return type(e).__name__ + ": " + str(e)
'''


def test_pin_ids_are_device_tuples_and_ints_are_refused(tmp_path, zboards):
    run = run_main(tmp_path, ERR + '''
say("int", err(lambda: machine.Pin(3)))
say("str", err(lambda: machine.Pin("P0.03")))
say("long", err(lambda: machine.Pin(("gpio0", 3, 1))))
say("dev", err(lambda: machine.Pin(("gpio7", 3))))
say("nomode", err(lambda: machine.Pin(("gpio0", 3), pull=machine.Pin.PULL_UP)))
say("initnomode", err(lambda: machine.Pin(("gpio0", 3)).init(pull=None)))
p = machine.Pin(("gpio0", 3), machine.Pin.IN)
q = machine.Pin(p)
say("ok", p.value(), q.value(), machine.Pin(("gpio@50000000", 3), machine.Pin.IN).value())
''', quiet(0.5), board="zpatched")
    assert said(run, "int") == [['ValueError: Pin id must be tuple of ("GPIO_x", pin#)']]
    assert said(run, "str") == said(run, "int")
    assert said(run, "long") == [["ValueError: requested length 2 but object has length 3"]]
    assert said(run, "dev") == [["ValueError: device gpio7 not found"]]
    assert said(run, "nomode") == [["TypeError: 'mode' argument required"]]
    assert said(run, "initnomode") == [["TypeError: 'mode' argument required"]]
    assert said(run, "ok") == [[0, 0, 0]]  # holstered: the Hall switch drives it low


def test_adc_is_the_vdd_channel_with_no_divider(tmp_path, zboards):
    run = run_main(tmp_path, ERR + '''
a = machine.ADC(("adc", 0))
say("uv", a.read_uv(), machine.ADC(a).read_uv())
say("pin", err(lambda: machine.ADC(machine.Pin(("gpio0", 3)))))
say("int", err(lambda: machine.ADC(0)))
say("ch", err(lambda: machine.ADC(("adc", 7))))
say("atten", hasattr(a, "atten"))
''', quiet(0.5), board="zpatched")
    assert said(run, "uv") == [[3000000, 3000000]]  # the cell (3.0 V in quiet()), 1:1
    msg = "ValueError: ADC must be initialized with a tuple of (adcblock, channel) or an ADC object"
    assert said(run, "pin") == said(run, "int") == [[msg]]
    assert said(run, "ch") == [["ValueError: ADC channel (adc, 7) not found"]]
    assert said(run, "atten") == [[False]]


def test_no_sleep_modes_no_rtc_and_reset_cause_prints_and_says_42(tmp_path, zboards):
    run = run_main(tmp_path, ERR + '''
say("has", [hasattr(machine, n) for n in ("lightsleep", "deepsleep", "RTC", "unique_id", "PWRON_RESET")])
say("cause", machine.reset_cause(), machine.reset_cause())
''', quiet(0.5), board="zpatched")
    assert said(run, "has") == [[[False] * 5]]
    assert said(run, "cause") == [[42, 42]]
    warnings = [e for e in run.events if e.get("type") == "console"
                and e["text"] == "Warning: machine_reset_cause is not implemented"]
    assert len(warnings) == 2  # printed at every call


def test_sleep_ms_is_idle_and_runs_irqs_without_ending_early(tmp_path, zboards):
    # mp_hal_wait_event(false, ...): a soft pin IRQ runs during the k_poll,
    # the sleep still lasts its full time; the CPU idles (light_us).
    run = run_main(tmp_path, ERR + '''
seen = []
def h(p):
    seen.append(time.ticks_ms())
p = machine.Pin(("gpio0", 3), machine.Pin.IN)
p.irq(handler=h, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
t0 = time.ticks_ms()
time.sleep_ms(1500)
say("slept", time.ticks_diff(time.ticks_ms(), t0), len(seen), time.ticks_diff(seen[0], t0))
''', quiet(2, [300]), board="zpatched")
    slept, n, at = said(run, "slept")[0]
    assert slept == 1500 and n == 1
    assert 300 <= at <= 300 + 50  # the Hall switch's next sample, during the sleep
    assert run.stats["light_us"] >= 1_500_000 and run.stats["wakeups"] == 0


def test_addr_mode_is_refused_active_or_not(tmp_path, zboards):
    run = run_main(tmp_path, ERR + '''
ble = bluetooth.BLE()
say("off", err(lambda: ble.config(addr_mode=0)))
ble.active(True)
say("on", err(lambda: ble.config(addr_mode=1)))
''', quiet(0.5), board="zstock")
    assert said(run, "off") == said(run, "on") == [["OSError: [Errno 95] EOPNOTSUPP"]]


ADVERTISE = ERR + '''
ble = bluetooth.BLE()
ble.active(True)
def heap():
    gc.collect()
    return gc.mem_alloc()
first = prev = None
changes = 0  # starts whose address differs from the previous start's
for i in range(220):
    if i == 20:
        h20 = heap()
    if i == 70:
        h70 = heap()
    ble.gap_advertise(20000, adv_data=b"\\x02\\x01\\x06", connectable=False)
    mac = ble.config("mac")[1]
    if prev is not None and mac != prev:
        changes += 1
    if first is None:
        first = mac
    prev = mac
h220 = heap()
say("macs", changes, first[0] & 0xC0)
ble.active(False)
# growth over the last 150 starts (a leak grows with the starts; a stale
# pointer the conservative GC finds on the stack does not), and what is left
# after active(False)
say("heap", h220 - h70, heap() - h20)
ble.active(True)
data = b"\\x02\\x01\\x06"
r = ["ok"]
micropython.heap_lock()
try:
    ble.gap_advertise(20000, adv_data=data, connectable=True)
except MemoryError:
    r[0] = "MemoryError"
micropython.heap_unlock()
say("locked", r[0])
'''


def test_stock_build_fixed_address_and_a_record_per_start(tmp_path, zboards):
    run = run_main(tmp_path, ADVERTISE, quiet(0.5), board="zstock")
    assert said(run, "macs") == [[0, 0xC0]]  # one static random identity address
    grew, after_off = said(run, "heap")[0]
    assert grew >= 150 * 8  # at least a record per start, kept reachable
    assert after_off < grew // 10  # active(False) lets them go
    assert said(run, "locked")[0][0].startswith("MemoryError")


def test_patched_build_fresh_nrpa_per_non_connectable_start_and_no_record(tmp_path, zboards):
    run = run_main(tmp_path, ADVERTISE, quiet(0.5), board="zpatched")
    n, top = said(run, "macs")[0]
    assert n == 219 and top == 0  # a new non-resolvable private address every start
    grew, _ = said(run, "heap")[0]
    assert grew < 300  # under 2 bytes a start: nothing kept per start (the stock build keeps >= 8)
    # a connectable start still allocates its record, patched or not
    assert said(run, "locked")[0][0].startswith("MemoryError")


def test_the_contract_marks_what_the_fakes_refuse():
    from drawsense.sim import ports
    c = ports.load("zephyr")
    for name in ("machine.lightsleep", "machine.deepsleep", "machine.RTC", "machine.unique_id"):
        assert c.get(name).kind == "absent"
    assert vboard  # the fakes read the same contract (vboard hands it over)


def test_cryptolib_is_missing(tmp_path, zboards):
    run = run_main(tmp_path, ERR + '''
try:
    from cryptolib import aes
    say("c", "present")
except ImportError:
    say("c", "missing")
''', quiet(0.5), board="zpatched")
    assert said(run, "c") == [["missing"]]


def test_select_poll_waits_idle_until_a_soft_pin_irq(tmp_path, zboards):
    # MICROPY_INTERNAL_WFE = mp_hal_wait_event(true, ...): a scheduled
    # callback ends the wait, and poll asks its objects again.
    run = run_main(tmp_path, ERR + '''
import io, select
class Flag(io.IOBase):
    def __init__(self):
        self.n = 0
    def ioctl(self, req, arg):
        if req == 3 and self.n:
            return arg & select.POLLIN
        return 0
f = Flag()
def h(p):
    f.n += 1
p = machine.Pin(("gpio0", 3), machine.Pin.IN)
p.irq(handler=h, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
poller = select.poll()
poller.register(f, select.POLLIN)
t0 = time.ticks_ms()
r = poller.poll(5000)
say("woke", time.ticks_diff(time.ticks_ms(), t0), len(r))
f.n = 0
t0 = time.ticks_ms()
r = poller.poll(200)
say("timeout", time.ticks_diff(time.ticks_ms(), t0), len(r))
''', quiet(3, [300]), board="zpatched")
    at, n = said(run, "woke")[0]
    assert n == 1 and 300 <= at <= 350  # the Hall switch's next sample after 300 ms
    assert said(run, "timeout") == [[200, 0]]
    assert run.stats["light_us"] >= 500_000  # both waits idle
