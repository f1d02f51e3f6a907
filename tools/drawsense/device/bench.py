"""`drawsense bench`: check a board on the bench through mpremote.

    drawsense bench --port P                      selftest.report() -> pass/fail table
    drawsense bench --port P --trigger            + a signed TEST burst (selftest.trigger)
    drawsense bench --port P --trigger --listen   + that burst received and verified:
        real radio: bleak scans (through drawsense.receive.air, as `drawsense listen`
                    does) from before the trigger until SCAN_S after it starts
        --events F: the virtual board served by `drawsense board serve --events F`:
                    the "@vb" lines it appends during the trigger are the air

Both ways the adverts go through drawsense.receive.receiver.Receiver with the key
store: the check passes when a verified `test` event from this device
arrives, and it must never be acted on as a draw.

mpremote stops the firmware (^C) to run the checks; the bench ends with a
hard reset (`mpremote reset`), so the board goes back to running its firmware
(the "restart" row; a WARN with what to do if the reset failed).

Exit status: 0 all checks pass (warnings allowed), 1 a check failed,
2 the bench could not run (no port, key store missing or damaged, no
drawsense firmware on the device).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from drawsense.device import mpcode, remote
from drawsense.sim import ports
from drawsense.keystore import KeyStore, KeyStoreError, default_path
from drawsense.device.remote import RemoteError

MIN_HEAP = 20 * 1024
TRIGGER_MS = 1000
SCAN_LEAD_S = 1.0  # the scanner runs this long before the trigger
SCAN_S = 4.0  # whole scan on a real radio (lead + burst + margin)


class BenchError(Exception):
    """The bench cannot run; one line, exit status 2."""


@dataclass
class Check:
    name: str
    status: str  # PASS | WARN | FAIL
    detail: str

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail}


def _json_line(out: str) -> dict:
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    raise BenchError(f"unexpected answer from the board: {out.strip()[-200:]!r}")


def _device_error(e: RemoteError) -> BenchError:
    text = str(e)
    if "ImportError" in text:
        return BenchError(f"drawsense firmware incomplete on the device ({text.split(': ', 1)[-1]}): "
                          f"run drawsense deploy first")
    return BenchError(text)


def read_report(port: str) -> dict:
    """selftest.report() from the device (device/mp/report.py)."""
    try:
        out = remote.exec_(port, mpcode.program("report", "report"), timeout=30)
    except RemoteError as e:
        raise _device_error(e) from None
    if "DS-NOFW" in out.split():
        raise BenchError("no drawsense firmware on the device: run drawsense deploy first")
    return _json_line(out)


def run_trigger(port: str, ms: int = TRIGGER_MS) -> dict:
    """selftest.trigger(ms): {"sent": n, "counters": [...]} or {"sent": 0, "error": ...}."""
    try:
        out = remote.exec_(port, f"import selftest; selftest.trigger({int(ms)})", timeout=30 + ms / 1000)
    except RemoteError as e:
        return {"sent": 0, "error": str(e)}
    try:
        return _json_line(out)
    except BenchError as e:
        return {"sent": 0, "error": str(e)}


def report_checks(rep: dict, store: KeyStore | None) -> list[Check]:
    checks = []
    fw = rep.get("firmware")
    checks.append(Check("firmware", "PASS" if fw else "FAIL",
                        f"{fw} on MicroPython {rep.get('micropython', '?')}" if fw else "no version reported"))
    board = rep.get("board")
    checks.append(Check("board", "PASS" if board else "FAIL", str(board) if board else "board.py names no board"))
    sensor = rep.get("sensor")
    checks.append(Check("sensor", "PASS" if sensor in ("in", "out") else "FAIL",
                        {"in": "in (holstered)", "out": "out (drawn)"}.get(str(sensor), f"unreadable: {sensor!r}")))
    mv = rep.get("battery_mv")
    if isinstance(mv, int) and mv > 0:
        checks.append(Check("battery", "PASS", f"{mv} mV"))
    elif mv == 0:
        checks.append(Check("battery", "WARN", "0 mV: battery divider not wired (or no ADC pin on this board)"))
    else:
        checks.append(Check("battery", "FAIL", f"unreadable: {mv!r}"))
    key, dev = rep.get("key"), rep.get("device")
    if key == "ok":
        detail, status = f"device id {dev}", "PASS"
        if store is not None:
            names = [d.name for d in store.devices() if d.id_hex == dev]
            if names:
                detail += f", {names[0]!r} in {store.path}"
            else:
                status, detail = "FAIL", detail + f" is not in {store.path} (drawsense provision --force)"
        checks.append(Check("key", status, detail))
    elif key == "missing":
        checks.append(Check("key", "FAIL", "not provisioned (drawsense provision --port P --name NAME)"))
    else:
        checks.append(Check("key", "FAIL", f"key file {key} (drawsense provision --force re-keys it)"))
    mark = rep.get("counter_mark")
    if isinstance(mark, int) and not isinstance(mark, bool) and mark >= 0:
        checks.append(Check("counter", "PASS", f"mark {mark}"))
    else:
        checks.append(Check("counter", "FAIL", f"{mark} (the device refuses to send: drawsense provision --force)"))
    heap = rep.get("free_heap")
    ok = isinstance(heap, int) and heap > MIN_HEAP
    checks.append(Check("free heap", "PASS" if ok else "FAIL",
                        f"{heap // 1024 if isinstance(heap, int) else '?'} KB (needs > {MIN_HEAP // 1024} KB)"))
    cause = rep.get("reset_cause")
    checks.append(Check("reset cause", "PASS" if cause is not None else "FAIL",
                        f"{cause} ({ports.reset_causes().get(cause, 'unknown')})" if cause is not None else "not reported"))
    return checks


# ------------------------------------------------------------------ listening

class _Collector:
    """Feeds adverts to a Receiver (as drawsense listen does) and keeps the events."""

    def __init__(self, store: KeyStore):
        from drawsense.receive.receiver import Receiver

        self.rx = Receiver(store)
        self.events: list = []
        self.acted: list = []
        self.t0 = time.monotonic()

    def __call__(self, device, adv) -> None:
        from drawsense import protocol

        mfr = adv.manufacturer_data.get(protocol.COMPANY)
        if mfr is None:
            return
        pd = adv.platform_data[0] if adv.platform_data else None
        t_ms = pd["t_ms"] if isinstance(pd, dict) and "t_ms" in pd else (time.monotonic() - self.t0) * 1000
        ev = self.rx.feed(bytes(mfr), addr=device.address, rssi=adv.rssi, t_ms=t_ms)
        if ev is not None:
            self.events.append(ev)
            if self.rx.should_act(ev):
                self.acted.append(ev)


def air_lines(vb_text: str) -> list[str]:
    """The virtual board's "@vb" lines -> `drawsense sim --json` adv lines."""
    from drawsense.sim import vboard

    events, _, _ = vboard.parse(vb_text)
    return [json.dumps({"type": "adv", "t_ms": e["t_ms"], "addr": e["addr"], "data": e["data"],
                        "rssi": e.get("rssi", -60)})
            for e in events if e.get("type") == "adv"]


def _listen_check(col: _Collector, device: str | None, trig: dict) -> Check:
    name = None
    for d in col.rx.devices.values():
        if d.rec.id_hex == device:
            name = d.rec.name
    mine = [e for e in col.events if e.device == name]
    tests = [e for e in mine if e.event == "test"]
    c = col.rx.counts
    seen = (f"{c['accepted']} verified adverts, {c['events']} events; rejected: "
            + (", ".join(f"{r} {c[r]}" for r in ("forged", "replay", "malformed", "unknown") if c[r]) or "none"))
    if name is None:
        return Check("listen", "FAIL", f"device {device} is not in the key store; {seen}")
    if [e for e in col.acted if e.device == name]:
        return Check("listen", "FAIL", f"a TEST burst was acted on as a draw; {seen}")
    if not tests:
        counters = trig.get("counters") or []
        return Check("listen", "FAIL", f"no verified test event from {name!r} (sent counters "
                                       f"{counters[:1]}..{counters[-1:]}); {seen}")
    e = tests[0]
    return Check("listen", "PASS", f"verified test event from {name!r}, counter {e.counter}, rssi {e.rssi}, "
                                   f"not a draw; {seen}")


def listen_virtual(port: str, store: KeyStore, events: Path, device: str | None) -> tuple[dict, Check]:
    """Trigger, then play the @vb lines the served board appended meanwhile."""
    from drawsense.receive import air as airmod

    start = events.stat().st_size if events.exists() else 0
    trig = run_trigger(port)
    if not trig.get("sent"):
        return trig, Check("listen", "FAIL", "nothing sent")
    text = ""
    for _ in range(40):  # each line is flushed as it happens; allow a moment for the radio-off line
        with open(events, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
        if '"on": false' in text:
            break
        time.sleep(0.05)
    lines = air_lines("\n".join(ln for ln in text.splitlines() if ln.startswith("@vb {") and ln.endswith("}")))
    if not lines:
        return trig, Check("listen", "FAIL", f"no adverts in {events} during the burst: is it the --events file "
                                             f"of the board served on {port}?")
    col = _Collector(store)
    try:
        asyncio.run(airmod.scan(col, air=lines))
    except airmod.AirError as e:
        return trig, Check("listen", "FAIL", f"{events}: {e}")
    col.rx.flush()
    return trig, _listen_check(col, device, trig)


def listen_radio(port: str, store: KeyStore, device: str | None, adapter: str | None) -> tuple[dict, Check]:
    """Scan with bleak from before the trigger until SCAN_S; the trigger runs
    in a thread (mpremote only), the scan and the key store in this one."""
    from bleak.exc import BleakError

    from drawsense.receive import air as airmod

    col = _Collector(store)
    trig: dict = {}

    def fire() -> None:
        time.sleep(SCAN_LEAD_S)
        trig.update(run_trigger(port))

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    try:
        asyncio.run(airmod.scan(col, adapter=adapter, duration=SCAN_S))
        err = None
    except (BleakError, OSError) as e:
        err = f"no Bluetooth adapter to listen with ({type(e).__name__}: {e}); for the virtual board use --events"
    t.join(30 + TRIGGER_MS / 1000)
    col.rx.flush()
    if err:
        return trig, Check("listen", "FAIL", err)
    return trig, _listen_check(col, device, trig)


# ------------------------------------------------------------------ command

def bench(port: str | None, *, keys: Path | None = None, trigger: bool = False, listen: bool = False,
          events: Path | None = None, adapter: str | None = None) -> tuple[dict, list[Check]]:
    """Run the bench; returns (report, checks). Raises BenchError (exit 2)."""
    if listen and not trigger:
        raise BenchError("--listen listens for the --trigger burst: give both")
    if events is not None and not listen:
        raise BenchError("--events is for --trigger --listen on the virtual board")
    if not port:
        raise BenchError("no port given: use --port /dev/ttyACM0 (or the pty that 'drawsense board serve' printed)")
    if events is not None:
        _check_events(Path(events))
    path = Path(keys) if keys else default_path()
    store = None
    try:
        if listen or path.exists():
            store = KeyStore(path, create=False)
        rep = read_report(port)
        checks = report_checks(rep, store)
        if trigger:
            by = {c.name: c.status for c in checks}
            if by["key"] == "FAIL" or by["counter"] == "FAIL":
                checks.append(Check("trigger", "FAIL", "skipped: the device cannot send (see key / counter)"))
                if listen:
                    checks.append(Check("listen", "FAIL", "skipped: nothing sent"))
            elif listen:
                assert store is not None
                if events is not None:
                    trig, lc = listen_virtual(port, store, Path(events), rep.get("device"))
                else:
                    trig, lc = listen_radio(port, store, rep.get("device"), adapter)
                checks.append(_trigger_check(trig))
                checks.append(lc)
            else:
                checks.append(_trigger_check(run_trigger(port)))
        checks.append(_restart(port))
        return rep, checks
    except KeyStoreError as e:
        raise BenchError(str(e)) from None
    except RemoteError as e:
        raise _device_error(e) from None
    finally:
        if store is not None:
            store.close()


def _check_events(events: Path) -> None:
    """--events must be the file a served board appends to (checked before
    the board is touched)."""
    what = "the file 'drawsense board serve --events FILE' writes"
    if events.is_dir():
        raise BenchError(f"--events {events}: is a folder; give {what}")
    if not events.exists():
        raise BenchError(f"--events {events}: no such file; give {what}")
    try:
        open(events, "rb").close()
    except OSError as e:
        raise BenchError(f"--events {events}: cannot read it ({e.strerror or e})") from None


def _restart(port: str) -> Check:
    """mpremote stopped the firmware to run the checks (^C); a hard reset
    puts the board back in service, its firmware running as after power-on
    (and, on an esp32, its watchdog back at 30 s: docs/bench.md)."""
    try:
        remote.reset(port)
    except RemoteError as e:
        return Check("restart", "WARN", f"could not reset the board ({e}): its firmware stays stopped until you "
                                        f"reset it (mpremote connect {port} reset, or power-cycle it)")
    return Check("restart", "PASS", "board reset: its firmware runs again")


def _trigger_check(trig: dict) -> Check:
    n = trig.get("sent") or 0
    if trig.get("error") == "counter exhausted":
        return Check("trigger", "FAIL", f"the device's counter has run out after {n} adverts: it must not sign "
                                        f"again under this key; re-key it (drawsense provision --force)")
    if n > 0:
        c = trig.get("counters") or []
        return Check("trigger", "PASS", f"TEST burst: {n} adverts, counters {c[0]}..{c[-1]}" if c
                     else f"TEST burst: {n} adverts")
    return Check("trigger", "FAIL", f"nothing sent: {trig.get('error', 'no answer')}")


def format_table(port: str, checks: list[Check]) -> str:
    lines = [f"drawsense bench {port}"]
    for c in checks:
        lines.append(f"  {c.status:<4}  {c.name:<12} {c.detail}")
    fails = sum(c.status == "FAIL" for c in checks)
    warns = sum(c.status == "WARN" for c in checks)
    tail = f" ({warns} warning{'s' * (warns != 1)})" if warns else ""
    lines.append(f"{fails} check{'s' * (fails != 1)} failed{tail}" if fails else f"all checks passed{tail}")
    return "\n".join(lines)
