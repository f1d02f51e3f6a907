"""The zephyr port contract (tools/drawsense/sim/ports/zephyr.toml) says what
the C says on the facts the firmware will depend on when it runs on an
nRF52840 (issue 11), so a wrong edit of the TOML fails here.

No board runs the zephyr port yet; the generic checks (citations, commit) are
in test_ports.py. The last tests read the cited C at the contract's commit
from a local MicroPython mirror and are skipped where there is none.
Run: pytest tests/sim/test_zephyr_contract.py
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from drawsense.sim import ports

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

C = ports.load("zephyr")
RAW = tomllib.loads((ports.DIR / "zephyr.toml").read_text())["api"]
MIRROR = Path("/work/.mirror/micropython+micropython/repo")


def test_it_is_read_at_the_same_micropython_commit_as_the_others():
    assert C.port == "zephyr"
    assert C.commit == ports.load("esp32").commit == ports.load("rp2").commit


@pytest.mark.parametrize("name", [
    "machine.lightsleep", "machine.deepsleep",  # no MICROPY_PY_MACHINE_BARE_METAL_FUNCS
    "machine.RTC", "machine.RTC.memory",  # no RTC, no RTC memory
    "machine.unique_id", "machine.PWRON_RESET", "machine.DEEPSLEEP_RESET", "machine.WDT_RESET",
    "cryptolib", "cryptolib.aes",  # MICROPY_PY_CRYPTOLIB follows MICROPY_PY_SSL (0)
    "esp32", "esp32.wake_on_gpio",
    "machine.ADC.atten", "time.localtime",
])
def test_what_the_port_lacks_is_absent(name):
    e = C.get(name)
    assert e is not None and e.kind == "absent", name


def test_pin_ids_are_device_and_number_tuples():
    pin = C.entries["machine.Pin"]
    assert pin.kind == "class" and pin.pos == ("id", "mode", "pull") and pin.min == 1
    assert set(pin.kw) == {"mode", "pull", "value"}  # no drive=, hold=, alt=
    raises = " ".join(RAW["machine.Pin"]["raises"])
    assert 'Pin id must be tuple of ("GPIO_x", pin#)' in raises
    assert "Pin(3)" in raises  # a plain int is refused
    assert "zephyr_device_find" in C.behaviour["pin_id"] and "tuple" in C.behaviour["pin_id"]
    # init needs mode, unlike esp32 and rp2
    assert C.entries["machine.Pin.init"].min == 1
    # ADC ids are tuples too, and extra arguments are ignored
    adc = C.entries["machine.ADC"]
    assert adc.varargs and "**" in adc.kw
    assert any("ADC(Pin(...))" in r for r in RAW["machine.ADC"]["raises"])


def test_pin_irq_takes_hard_and_no_wake():
    irq = C.entries["machine.Pin.irq"]
    assert irq.pos == ("handler", "trigger", "hard") and set(irq.kw) == {"handler", "trigger", "hard"}
    assert "mp_irq_dispatch" in C.behaviour["pin_irq"]


def test_pin_constants_are_zephyrs_gpio_flags():
    bit = lambda n: 1 << n  # noqa: E731
    want = {"IN": bit(16), "OUT": bit(17) | bit(16), "OPEN_DRAIN": bit(17) | bit(16) | 6,
            "PULL_UP": bit(4), "PULL_DOWN": bit(5),
            "IRQ_RISING": bit(22) | bit(24) | bit(26), "IRQ_FALLING": bit(22) | bit(24) | bit(25)}
    for name, value in want.items():
        e = C.entries[f"machine.Pin.{name}"]
        assert e.kind == "const" and e.value == value, name


def test_reset_cause_prints_a_warning_and_returns_42():
    e = C.entries["machine.reset_cause"]
    assert e.kind == "function" and e.pos == () and e.value == 42
    assert RAW["machine.reset_cause"]["warning"] == "Warning: machine_reset_cause is not implemented"
    assert "ports/zephyr/modmachine.c: machine_reset_cause" in e.source
    assert ports.reset_causes("zephyr") == {}  # no *_RESET constants to compare with


def test_addr_mode_is_refused_with_eopnotsupp():
    cfg = C.entries["bluetooth.BLE.config"]
    assert "addr_mode" in cfg.kw and cfg.bad_kw == "ValueError"
    assert RAW["bluetooth.BLE.config"]["errno"] == 95  # picolibc's EOPNOTSUPP
    assert any(r.startswith("OSError(EOPNOTSUPP) for EVERY config(addr_mode=") for r in RAW["bluetooth.BLE.config"]["raises"])
    assert "mp_bluetooth_set_address_mode" in cfg.source
    assert "unconditionally" in C.behaviour["ble_addr_mode"]


def test_gap_advertise_uses_the_identity_and_allocates_per_call():
    e = C.entries["bluetooth.BLE.gap_advertise"]
    assert "BT_LE_ADV_OPT_USE_IDENTITY" in e.source and "m_new0" in e.source
    assert "objs_list" in C.behaviour["gap_advertise_alloc"]
    assert "BT_LE_ADV_OPT_USE_IDENTITY" in C.behaviour["ble_identity_address"]


def test_sleep_is_the_idle_thread_and_the_queue_is_four():
    assert "k_poll" in C.entries["time.sleep_ms"].note
    assert "MICROPY_SCHEDULER_DEPTH default 4" in C.entries["micropython.schedule"].source
    assert "4 callbacks" in " ".join(RAW["micropython.schedule"]["raises"])


# ------------------------------------------------------------ against the C

def _show(path: str) -> str | None:
    r = subprocess.run(["git", "-C", str(MIRROR), "show", f"{C.commit}:{path}"], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


needs_mirror = pytest.mark.skipif(not (MIRROR / "HEAD").exists(), reason=f"no MicroPython mirror at {MIRROR}")


@needs_mirror
def test_every_cited_micropython_file_exists_at_the_commit():
    text = (ports.DIR / "zephyr.toml").read_text()
    cited = set(re.findall(r"\b((?:ports/\w+|extmod|py|shared)/[\w/.-]+\.(?:c|h|conf|overlay))\b", text))
    assert len(cited) > 15
    missing = sorted(p for p in cited if _show(p) is None)
    assert not missing, missing


@needs_mirror
@pytest.mark.parametrize("path, text", [
    ("ports/zephyr/modmachine.c", 'printf("Warning: %s is not implemented\\n", __func__);\n    return MP_OBJ_NEW_SMALL_INT(42);'),
    ("ports/zephyr/modbluetooth_zephyr.c", "void mp_bluetooth_set_address_mode(uint8_t addr_mode) {\n    mp_raise_OSError(MP_EOPNOTSUPP);"),
    ("ports/zephyr/modbluetooth_zephyr.c", "| BT_LE_ADV_OPT_USE_IDENTITY"),
    ("ports/zephyr/modbluetooth_zephyr.c", "mp_bt_zephyr_next_conn = m_new0(mp_bt_zephyr_conn_t, 1);\n    mp_obj_list_append("),
    ("ports/zephyr/machine_pin.c", '"Pin id must be tuple of (\\"GPIO_x\\", pin#)"'),
    ("ports/zephyr/machine_pin.c", "{ MP_QSTR_hard, MP_ARG_BOOL, {.u_bool = false} },"),
    ("ports/zephyr/machine_wdt.c", "WDT_OPT_PAUSE_IN_SLEEP"),
    ("py/mpconfig.h", "#define MICROPY_PY_CRYPTOLIB (MICROPY_PY_SSL)"),
    ("py/mpconfig.h", "#define MICROPY_SCHEDULER_DEPTH (4)"),
])
def test_the_c_says_so(path, text):
    src = _show(path)
    assert src is not None and text in src, (path, text)


@needs_mirror
def test_the_zephyr_port_defines_no_bare_metal_sleep_or_ssl():
    conf = _show("ports/zephyr/mpconfigport.h")
    assert conf is not None
    for macro in ("MICROPY_PY_MACHINE_BARE_METAL_FUNCS", "MICROPY_PY_SSL", "MICROPY_SCHEDULER_DEPTH",
                  "MICROPY_PY_MACHINE_RESET"):
        assert macro not in conf, macro
