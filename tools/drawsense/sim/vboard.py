"""Run the firmware, unmodified, on the virtual board under MicroPython.

The MicroPython side lives in sim/mp/ (strict fakes of machine, bluetooth,
time and esp32, ahead of the built-ins on MICROPYPATH). This module writes the
scenario's timeline for it, starts ``micropython``, and turns what comes back
(``@vb <json>`` lines from the virtual board, ``ds <ticks> ...`` lines the
firmware prints) into one ordered list of events with virtual ``t_ms``.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from drawsense import boards, firmware, paths, protocol
from drawsense.sim import ports
from drawsense.sim.events import Event, make

_MASK = 0x3FFFFFFF
_HALF = 1 << 29
RESET_CAUSES = ports.reset_causes()  # the full set (esp32's); rp2 uses two of them


class FirmwareCrash(RuntimeError):
    """The firmware raised on the virtual board (the traceback is in .detail)."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class SimResult:
    """A finished run: read-only, so one run can be shared by every reader
    (the tests cache runs). events: sim.events, in time order."""

    scenario: str
    board: str
    events: tuple[Event, ...]
    stats: Mapping[str, Any]
    wall_s: float
    console: tuple[str, ...] = ()

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e["type"] == kind]

    def states(self) -> list[str]:
        return [e["state"] for e in self.of("state")]

    def adverts(self) -> list[Event]:
        return self.of("adv")

    @property
    def duration_ms(self) -> float:
        return self.events[-1]["t_ms"] if self.events else 0.0


# The fakes are Python here but C on a board: the interpreter gets this much
# more heap than asked for, and the virtual board takes up whatever its own
# modules leave of it (_vb.give_heap), so the firmware finds the heap it was
# promised free, as on a board.
FAKES_HEAP = 128 * 1024


def heap_bytes(text: str) -> int:
    """MicroPython's -X heapsize= spelling (bytes, or a number with K or M) in bytes."""
    import re

    m = re.fullmatch(r"(\d+)([KkMm]?)", text)
    if not m:
        raise ValueError(f"heap size {text!r}: give bytes or a number with K or M, e.g. 192K")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20}[m.group(2).lower()]


def heap_cmd(heapsize: str) -> tuple[list[str], dict]:
    """The micropython arguments and environment that give the firmware `heapsize` of its own."""
    want = heap_bytes(heapsize)
    return ["-X", f"heapsize={want + FAKES_HEAP}"], {"DRAWSENSE_VB_HEAPSIZE": str(want)}


def port_fakes(port: str) -> list[str]:
    """Fakes only one port needs, ahead of the unix port's own modules:
    zephyr has no cryptolib and waits in select.poll (sim/mp/zephyr/)."""
    d = paths.VBOARD_MP / port
    return [str(d)] if port == "zephyr" and d.is_dir() else []


def micropypath(board_dir: Path, firmware_dir: Path, port: str = "") -> str:
    return os.pathsep.join([*port_fakes(port), str(paths.VBOARD_MP), str(firmware_dir), str(board_dir), ".frozen"])


def run(
    scenario,
    board_name: str = "virtual",
    *,
    firmware_dir: Path | None = None,
    heap_probe: bool = False,
    heapsize: str = "192K",
    wrap_after_ms: int = 2000,
    timeout: float = 600.0,
    secret: bytes | None = None,
    device_id: bytes = bytes(8),
    log_key: bytes | None = None,
    flash_image: Path | None = None,
    cut_at: int = 0,
    adc_calibrated: bool = True,
    faults: list[tuple[str, float]] = (),
    counter_start: int = 0,
    flash_op_us: int = 0,
    files: tuple[tuple[str, bytes], ...] = (),
    progress=None,
) -> SimResult:
    """Run `scenario` (a drawsense.sim.scenario.Scenario) on the named board.

    The board's ticks_ms wraps around (2**30) `wrap_after_ms` into the run,
    so every scenario also checks the firmware's tick arithmetic. `heapsize`
    (192 KiB, about an ESP32-C3's) is what the firmware finds free: the
    virtual board's own Python fakes, C on a board, get heap beside it.

    `secret` provisions the virtual device (its key file is in the flash at
    first power-on) and lets the adverts be decoded for display; without it
    the device runs unprovisioned. `log_key` (16 bytes) gives it an event
    log (firmware/evlog.py); without one it keeps none, as a device
    provisioned before the log. `flash_image` keeps the device's flash
    (and so its counter) from run to run. `cut_at` cuts the power during the
    Nth flash program/erase operation. `adc_calibrated=False` runs an esp32
    without eFuse ADC calibration (read_uv raises). `faults`, [(kind, at_ms)],
    injects each once at its first chance from at_ms: "flash" (a refused
    flash write), "radio" (gap_advertise raises), "hang" (the firmware's next
    wait never returns). `counter_start` is the counter's first mark, as
    provisioning writes it (0; near 2**32 to see it run out). `flash_op_us`:
    virtual time each flash program or erase takes (0: none, as the
    firmware's own code takes none). `files`,
    ((name, bytes), ...), are put in the flash at first power-on too, after
    (so over) the provisioned ones: a damaged key file, say. `progress(t_ms, total_ms)` is called
    as virtual time passes (for long runs)."""
    from drawsense.sim.scenario import timeline_json

    board = boards.load(board_name)
    fw = Path(firmware_dir) if firmware_dir else paths.FIRMWARE
    with tempfile.TemporaryDirectory(prefix="drawsense-vb-") as tmp:
        tl = Path(tmp) / "timeline.json"
        meta = timeline_json(scenario)
        meta.pop("edges", None)
        meta["wrap_after_ms"] = wrap_after_ms
        meta["contract"] = ports.load(board["PORT"]).compact()
        meta["adc_calibrated"] = adc_calibrated
        meta["faults"] = [[kind, round(at_ms * 1000)] for kind, at_ms in faults]
        if flash_op_us:
            meta["flash_op_us"] = flash_op_us
        tl.write_text(json.dumps(meta))
        eb = Path(tmp) / "edges.bin"
        eb.write_bytes(b"".join(struct.pack("<q", t) for t, _ in scenario.edges))
        env = dict(os.environ)
        env["MICROPYPATH"] = micropypath(board.dir, fw, board["PORT"])
        env["DRAWSENSE_VB_TIMELINE"] = str(tl)
        env["DRAWSENSE_VB_EDGES"] = str(eb)
        env["DRAWSENSE_VB_HEAP"] = "1" if heap_probe else "0"
        env["DRAWSENSE_VB_CUT_AT"] = str(cut_at)
        flash = Path(flash_image).resolve() if flash_image else Path(tmp) / "flash.img"
        if not flash.exists():  # it will hold the device's key: private
            os.close(os.open(flash, os.O_CREAT | os.O_WRONLY, 0o600))
        env["DRAWSENSE_VB_FLASH"] = str(flash)
        env["DRAWSENSE_VB_FILES"] = ""
        seeded = dict(files)
        if secret is not None:
            # what provisioning writes, in the firmware's own formats: the
            # key, and the counter's mark
            seeded = {firmware.KEY_FILE: firmware.key_file(secret, device_id, log_key),
                      firmware.CTR_FILE: firmware.counter_file(counter_start & 0xFFFFFFFF), **seeded}
        if seeded:
            seed = Path(tmp) / "seed"
            seed.mkdir()
            for name, data in seeded.items():
                (seed / name).write_bytes(data)
            env["DRAWSENSE_VB_FILES"] = str(seed)
        heap_args, heap_env = heap_cmd(heapsize)
        env.update(heap_env)
        cmd = [paths.micropython(), *heap_args, str(paths.VBOARD_MP / "vboot.py")]
        t0 = time.perf_counter()
        if progress is None:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp)
            stdout, stderr, rc = proc.stdout, proc.stderr, proc.returncode
        else:
            stdout, stderr, rc = _stream(cmd, env, tmp, progress, scenario.duration_us / 1000)
        wall = time.perf_counter() - t0
    known = protocol.KnownDevice(secret, first_epoch=counter_start >> protocol.EPOCH_SHIFT) if secret else None
    events, stats, console = parse(stdout, known)
    crash = [e for e in events if e["type"] == "crash"]
    if rc != 0 or crash:
        detail = (stderr or "") + "\n".join(console[-20:])
        what = crash[0]["error"] if crash else f"micropython exited with status {rc}"
        raise FirmwareCrash(f"firmware failed on the virtual board: {what}", detail.strip())
    return SimResult(scenario.name, board_name, tuple(events), MappingProxyType(stats), wall, tuple(console))


def _stream(cmd, env, cwd, progress, total_ms) -> tuple[str, str, int]:
    """Run the board, reporting virtual time from its sleep lines as it goes."""
    lines = []
    with subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None and p.stderr is not None
        try:
            for line in p.stdout:
                lines.append(line)
                if line.startswith("@vb ") and '"sleep"' in line:
                    ev = json.loads(line[4:])
                    if ev["type"] == "sleep":
                        progress(ev["t"] / 1000, total_ms)
        except BaseException:  # Ctrl-C, SIGTERM: the board stops with us (Popen's exit only waits)
            p.kill()
            raise
        err = p.stderr.read()
        rc = p.wait()
    progress(total_ms, total_ms)
    return "".join(lines), err, rc


def parse(stdout: str, known: protocol.KnownDevice | None = None) -> tuple[list[Event], dict, list[str]]:
    """Merge virtual-board and firmware lines into ordered events with t_ms
    (sim.events; an event outside its schema raises events.SchemaError)."""
    events: list[Event] = []
    console: list[str] = []
    stats: dict = {}
    last_us = 0
    tick_off = tick_base = 0
    for line in stdout.splitlines():
        if line.startswith("@vb "):
            ev = json.loads(line[4:])
            last_us = ev.pop("t")
            ev["t_ms"] = last_us / 1000
            kind = ev["type"]
            if kind == "boot":
                tick_off = ev["tick_off_ms"]
                tick_base = ev.get("tick_base_us", 0)  # ticks restart at every boot
                ev["cause"] = RESET_CAUSES.get(ev["cause"], str(ev["cause"]))
            elif kind == "wake" and "tick_base_us" in ev:
                tick_base = ev["tick_base_us"]  # esp32: ticks moved on by the RTC's measure of a light sleep
            elif kind == "reset":
                ev["cause"] = RESET_CAUSES.get(ev["cause"], str(ev["cause"]))
            elif kind == "adv" and known is not None:
                f = known.open(bytes.fromhex(ev["data"]))
                if f is not None:
                    ev.update(event=f.event, counter=f.counter, since_draw_ms=f.since_draw_ms,
                              battery_mv=f.battery_mv, battery_low=f.battery_low, brownout=f.brownout)
            elif kind == "end":
                stats = {k: v for k, v in ev.items() if k not in ("type", "t_ms")}
            events.append(make(ev))
        elif line.startswith("ds "):
            words = line.split()
            try:
                ticks = int(words[1])
            except (IndexError, ValueError):
                console.append(line)
                continue
            ref = ((last_us - tick_base) // 1000 + tick_off) & _MASK
            delta = ((ticks - ref + _HALF) & _MASK) - _HALF
            # Firmware code takes no virtual time, so a line printed in the
            # same millisecond as the last board event happened at that event.
            t_ms = last_us / 1000 if delta == 0 else float(last_us // 1000 + delta)
            events.append(make(_firmware_event(t_ms, words[2:])))
        else:
            console.append(line)
            events.append(make({"t_ms": last_us / 1000, "type": "console", "text": line}))
    return events, stats, console


def _firmware_event(t_ms: float, words: list[str]) -> dict:
    kind = words[0] if words else "?"
    args = words[1:]
    if kind == "state":
        return {"t_ms": t_ms, "type": "state", "state": args[0], "event": args[1] if len(args) > 1 else "none"}
    if kind == "level":
        return {"t_ms": t_ms, "type": "level", "level": args[0]}
    if kind == "burst":
        sent = args[1] != "unsent"  # unprovisioned: the firmware sends nothing
        return {"t_ms": t_ms, "type": "burst", "event": args[0], "ms": int(args[1]) if sent else 0, "sent": sent}
    if kind == "boot":
        return {"t_ms": t_ms, "type": "firmware", "board": args[0], "state": args[1],
                "cause": args[2] if len(args) > 2 else "?"}
    if kind == "fault":
        return {"t_ms": t_ms, "type": "fault", "error": " ".join(args).replace("_", " ")}
    return {"t_ms": t_ms, "type": "report", "words": words}


_READ_FLASH = """
import os, binascii
class B:
    def __init__(s, f): s.f = open(f, 'rb')
    def readblocks(s, n, buf, off=0):
        s.f.seek(n * %d + off); s.f.readinto(buf)
    def writeblocks(s, n, buf, off=None): raise OSError(30)
    def ioctl(s, op, arg):
        return {4: %d, 5: %d}.get(op, 0)
os.mount(os.VfsLfs2(B(%r)), '/flash', readonly=True)
for n in sorted(os.listdir('/flash')):
    with open('/flash/' + n, 'rb') as f:
        print(n, binascii.hexlify(f.read()).decode())
"""


def flash_files(image: Path) -> dict[str, bytes]:
    """The files in a virtual board's flash image (run(flash_image=...)), read
    by MicroPython's own littlefs (read-only), as the device would find them."""
    block, blocks = 4096, Path(image).stat().st_size // 4096  # sim/mp/_vb.py FLASH_BLOCK
    code = _READ_FLASH % (block, blocks, block, str(Path(image).resolve()))
    p = subprocess.run([paths.micropython(), "-c", code], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"cannot read the flash image {image}: {(p.stderr or p.stdout).strip()[-300:]}")
    out = {}
    for line in p.stdout.splitlines():
        name, _, hexdata = line.partition(" ")
        out[name] = bytes.fromhex(hexdata)
    return out
