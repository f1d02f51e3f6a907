"""The port contract: the fakes accept exactly what each MicroPython port's
C source accepts, and the firmware calls nothing a port would refuse.

The contract (tools/drawsense/sim/ports/<port>.toml) was read from
micropython/micropython at the commit each file names; every entry cites
file and function. Run: pytest tests/sim/test_ports.py
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from drawsense import boards
from drawsense.sim import ports

from conftest import FIRMWARE
from vbhelp import quiet, run_main

# a board of each port the project runs
PORT_BOARDS = {"esp32": "esp32c3", "rp2": "picow", "virtual": "virtual"}


# every contract, including those of ports no board runs yet (zephyr)
@pytest.mark.parametrize("port", ports.names())
def test_every_contract_entry_cites_its_source_at_a_commit(port):
    c = ports.load(port)
    assert re.fullmatch(r"[0-9a-f]{40}", c.commit)
    assert len(c.entries) > 30
    for e in c.entries.values():
        assert e.source.strip() and ("/" in e.source or "not " in e.source), e.name
    # what the virtual board models of each port, per its C source
    assert c.behaviour or port == "virtual"


def test_every_board_has_the_contract_of_its_port():
    for name in boards.names():
        assert ports.load(boards.load(name)["PORT"]).entries


# ------------------------------------------------------------ the firmware scan

def _problems(fw: Path) -> list[str]:
    calls = ports.scan_firmware(fw)
    out = []
    for name in boards.names():
        contract = ports.load(boards.load(name)["PORT"])
        for call in calls:
            if call.ports is None or contract.port in call.ports:
                why = ports.check_call(call, contract)
                if why:
                    out.append(f"{name}: {why}")
    return out


def test_the_firmware_calls_nothing_a_boards_port_would_refuse():
    calls = ports.scan_firmware(FIRMWARE)
    assert {"machine.Pin.irq", "bluetooth.BLE.gap_advertise", "esp32.wake_on_gpio"} <= {c.name for c in calls}
    assert _problems(FIRMWARE) == []


def test_the_scan_catches_a_hard_irq_on_esp32(tmp_path):
    # The firmware's esp32 branch asking for hard=True (as it once did for
    # every port): the esp32 port's Pin.irq has no such argument.
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE, fw)
    hw = fw / "hw.py"
    src = hw.read_text()
    soft = "self.pin.irq(handler=handler, trigger=trigger)\n"
    assert src.count(soft) == 1
    hw.write_text(src.replace(soft, "self.pin.irq(handler=handler, trigger=trigger, hard=True)\n"))
    found = _problems(fw)
    assert found and all("esp32c3:" in p and "'hard'" in p for p in found), found


def test_the_scan_catches_a_name_the_port_lacks(tmp_path):
    fw = tmp_path / "fw"
    shutil.copytree(FIRMWARE, fw)
    (fw / "extra.py").write_text("import esp32\n\ndef f(p):\n    esp32.wake_on_ext0(p, 1)\n")
    found = _problems(fw)
    assert any("esp32c3:" in p and "wake_on_ext0 does not exist" in p for p in found), found


# ------------------------------------------------------------ the fakes follow it

# Objects to call methods on, per class (built on the board being tested).
_INSTANCES = {
    "machine.Pin": "machine.Pin(board.SENSOR_PIN)",
    "machine.ADC": "machine.ADC(26 if board.PORT == 'rp2' else 1)",
    "machine.RTC": "machine.RTC()",
    "bluetooth.BLE": "bluetooth.BLE()",
}
# Never constructed here: a WDT cannot be stopped once started.
_NO_INSTANCE = ("machine.WDT", "esp32.NVS")


def _probe(tmp_path, board: str, contract: ports.Contract) -> dict[str, str]:
    """Call every name in the contract on the fakes, with an unknown keyword
    and with one positional too many; report what each raised."""
    names = []
    for n, e in sorted(contract.entries.items()):
        if n.split(".")[0] not in ("machine", "time", "bluetooth", "esp32") or n.count(".") == 0:
            continue
        names.append((n, e.kind, len(e.pos), e.varargs, "**" in e.kw, e.value if e.kind == "const" else None))
    code = f"""
import board, machine, time, bluetooth
try:
    import esp32
except ImportError:
    esp32 = None
MODS = {{"machine": machine, "time": time, "bluetooth": bluetooth, "esp32": esp32}}
INST = {{}}
for cls, expr in {_INSTANCES!r}.items():
    try:
        INST[cls] = eval(expr)
    except Exception as e:
        INST[cls] = e

def target(name):
    parts = name.split(".")
    mod = MODS[parts[0]]
    if mod is None:
        raise AttributeError("no module")
    if len(parts) == 3 and parts[2][0].islower() and ".".join(parts[:2]) in INST:
        inst = INST[".".join(parts[:2])]
        if isinstance(inst, Exception):
            raise inst
        return getattr(inst, parts[2])
    obj = mod
    for p in parts[1:]:
        obj = getattr(obj, p)
    return obj

def outcome(f, *a, **kw):
    try:
        f(*a, **kw)
        return "ok"
    except Exception as e:
        return type(e).__name__

for name, kind, npos, var, anykw, value in {names!r}:
    if name in {_NO_INSTANCE!r} or name.rsplit(".", 1)[0] in {_NO_INSTANCE!r}:
        continue
    try:
        obj = target(name)
    except AttributeError:
        print("ds", 0, "chk", name, "missing", "-")
        continue
    if kind == "const":
        print("ds", 0, "chk", name, "const", obj == value)
        continue
    if kind == "absent":
        print("ds", 0, "chk", name, "absent", outcome(obj))
        continue
    kw = "ok" if anykw else outcome(obj, bogus_kw=1)
    pos = "ok" if var else outcome(obj, *([None] * (npos + 1)))
    print("ds", 0, "chk", name, kw, pos)
"""
    run = run_main(tmp_path, code, quiet(1), board=board)
    out = {}
    for e in run.of("report"):
        if e["words"][0] == "chk":
            out[e["words"][1]] = " ".join(e["words"][2:])
    return out


@pytest.mark.parametrize("port", sorted(PORT_BOARDS))
def test_the_fakes_refuse_what_the_port_refuses(tmp_path, port):
    contract = ports.load(port)
    got = _probe(tmp_path, PORT_BOARDS[port], contract)
    assert len(got) > 20
    wrong = []
    for name, result in got.items():
        e = contract.entries[name]
        words = result.split()
        if words[0] == "missing":
            # a fake may leave out what it does not model; never what the port lacks
            continue
        if e.kind == "const":
            if words[1] != "True":
                wrong.append(f"{name}: value differs from the port's {e.value}")
        elif e.kind == "absent":
            if words[1] != "AttributeError":
                wrong.append(f"{name}: the port has no such name ({e.source}), the fake answers {words[1]}")
        else:
            kw, pos = words
            if kw != ("ok" if "**" in e.kw else e.bad_kw):
                wrong.append(f"{name}: an unknown keyword gives {kw}, the port raises {e.bad_kw} ({e.source})")
            if pos not in ("TypeError", "ok") or (pos == "ok" and not e.varargs):
                wrong.append(f"{name}: {len(e.pos) + 1} positionals give {pos}, the port raises TypeError")
    assert not wrong, "\n".join(wrong)


def test_the_fakes_model_the_hardware_the_firmware_uses(tmp_path):
    # every name the firmware calls exists in the fake of each port that runs it
    calls = ports.scan_firmware(FIRMWARE)
    for port, board in PORT_BOARDS.items():
        (tmp_path / port).mkdir()
        got = _probe(tmp_path / port, board, ports.load(port))
        used = {c.name for c in calls if (c.ports is None or port in c.ports) and not c.excused}
        missing = sorted(n for n in used if got.get(n, "").startswith("missing"))
        assert not missing, f"{port}: the firmware uses {missing}, which the fakes do not model"
