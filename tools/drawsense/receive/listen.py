"""`drawsense listen`: bleak in, verified events out, an action per draw.

One code path for a real adapter and for simulated air: both deliver through
bleak's detection callback (drawsense.receive.air supplies a scanner backend that
plays `drawsense sim --json` lines).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable

from bleak.exc import BleakError

from drawsense.receive import air as airmod
from drawsense import protocol
from drawsense.console import Interrupted, fail, interrupt_status, note, say, warn
from drawsense.keystore import KeyStore, KeyStoreError
from drawsense.receive.receiver import Receiver


def _clean(value: object) -> str:
    # what reaches a shell command's environment: printable text only (an
    # address from the air is whatever the air said)
    return "".join(ch for ch in str(value) if ch.isprintable())[:64]


def _env(ev) -> dict:
    env = dict(os.environ)
    env.update({
        "DRAWSENSE_EVENT": _clean(ev.event),
        "DRAWSENSE_DEVICE": _clean(ev.device),
        "DRAWSENSE_COUNTER": str(ev.counter),
        "DRAWSENSE_SINCE_DRAW_MS": "" if ev.since_draw_ms is None else str(ev.since_draw_ms),
        "DRAWSENSE_BATTERY_MV": "" if ev.battery_mv is None else str(ev.battery_mv),
        "DRAWSENSE_RSSI": "" if ev.rssi is None else str(ev.rssi),
        "DRAWSENSE_ADDR": _clean(ev.addr),
    })
    return env


def _action(cmd: str, ev) -> threading.Thread:
    """Run the --on-draw command for `ev`; a thread waits for it and says
    on stderr if it failed (listening goes on either way). What it prints
    goes to stderr: stdout is the event stream (--json: JSON lines only)."""
    proc = subprocess.Popen(cmd, shell=True, env=_env(ev), stdout=sys.stderr.fileno())

    def wait() -> None:
        rc = proc.wait()
        if rc:
            how = f"exit status {rc}" if rc > 0 else f"killed by {signal.Signals(-rc).name}"
            say(f"--on-draw failed ({how}) for {_clean(ev.device)}'s {ev.event} (counter {ev.counter})")

    t = threading.Thread(target=wait, name=f"on-draw {proc.pid}", daemon=True)
    t.start()
    return t


def format_event(ev) -> str:
    since = "-" if ev.since_draw_ms is None else f"{ev.since_draw_ms} ms"
    mv = "-" if ev.battery_mv is None else f"{ev.battery_mv} mV{' LOW' if ev.battery_low else ''}"
    return (f"{ev.t_ms / 1000:12.3f}  {ev.event:<9} {ev.device:<16} counter {ev.counter:<8} since draw {since:<9} "
            f"battery {mv:<8} rssi {ev.rssi} from {ev.addr}")


async def _scan_and_retry(receiver: Callable[[], Receiver | None], scan) -> None:
    """Scan; meanwhile, every second, write the replay floors a locked store
    refused (on quiet air no advert would come to retry them, and a power
    cut would lose them)."""
    async def retry() -> None:
        while True:
            await asyncio.sleep(1.0)
            rx = receiver()
            if rx is not None and rx.pending:
                rx.retry()

    task = asyncio.create_task(retry())
    try:
        await scan
    finally:
        task.cancel()


async def _until_signal(work) -> int | None:
    """Await `work`; SIGTERM or SIGINT (unless ignored, as in a background
    job) cancels it between two adverts, never inside the handling of one (a
    key-store commit), and is returned: None if `work` ended by itself."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    got: list[int] = []

    def stop(sig: int) -> None:
        got.append(sig)
        task.cancel()

    sigs = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) is not signal.SIG_IGN]
    try:
        for s in sigs:
            loop.add_signal_handler(s, stop, s)
    except (ValueError, RuntimeError):  # not the main thread (a test calling run()): no signals to take
        sigs = []
    try:
        await work
    except asyncio.CancelledError:
        if not got:
            raise
    finally:
        for s in sigs:
            loop.remove_signal_handler(s)
    return got[0] if got else None


def run(open_store: Callable[[], KeyStore], *, source: str | None = None, as_json: bool = False,
        on_draw: str | None = None, adapter: str | None = None, duration: float | None = None, window: int | None = None,
        out=None) -> int:
    """Listen until the air runs out (simulated), `duration` passes or Ctrl-C.

    On simulated air the key store is opened when the first advert arrives:
    in `drawsense sim --keys K --json | drawsense listen --air - --keys K`
    both start at once, and the simulator creates K before it prints."""
    out = out or sys.stdout
    rx: Receiver | None = None
    children: list[threading.Thread] = []  # each waits for one --on-draw command
    t0 = time.monotonic()
    wall_t0 = time.time()  # t_ms = 0 on the wall clock: when a device was heard, for the fleet view

    def receiver() -> Receiver:
        nonlocal rx
        if rx is None:
            store = open_store()
            rx = Receiver(store, window=window, wall_t0=wall_t0)
            if not rx.devices:
                warn(f"no devices in {store.path}; every advert will be unknown (add one: drawsense keys add NAME)")
        return rx

    def on_advert(device, adv) -> None:
        # Under a real adapter bleak's D-Bus layer swallows what a detection
        # callback raises: say it here, and go on listening. (The store
        # missing on simulated air still ends the listen, with exit 2.)
        try:
            handle(device, adv)
        except (airmod.AirError, KeyStoreError, BrokenPipeError, MemoryError):
            raise
        except Exception as e:
            say(f"error handling an advert from {device.address}: {type(e).__name__}: {e}; listening on")

    def handle(device, adv) -> None:
        mfr = adv.manufacturer_data.get(protocol.COMPANY)
        if mfr is None:
            return  # someone else's advert
        rx = receiver()
        pd = adv.platform_data[0] if adv.platform_data else None
        t_ms = pd["t_ms"] if isinstance(pd, dict) and "t_ms" in pd else (time.monotonic() - t0) * 1000
        ev = rx.feed(bytes(mfr), addr=device.address, rssi=adv.rssi, t_ms=t_ms)
        if ev is None:
            return
        if as_json:
            out.write(json.dumps(ev.as_dict()) + "\n")
        else:
            out.write(format_event(ev) + "\n")
        out.flush()
        if on_draw and rx.should_act(ev):
            children[:] = [c for c in children if c.is_alive()]
            try:
                children.append(_action(on_draw, ev))
            except (OSError, ValueError) as e:
                # logged, and listening goes on: the next draw tries again
                say(f"--on-draw could not start for {ev.device}'s {ev.event}: {e}")

    stopped: KeyboardInterrupt | None = None
    try:
        if source is None:
            receiver()  # a real radio: check the key store before scanning
        sig = asyncio.run(_until_signal(_scan_and_retry(lambda: rx, airmod.scan(on_advert, air=source,
                                                                                 adapter=adapter, duration=duration))))
        if sig:
            raise Interrupted(sig)
        rx = receiver()  # also when the air held no drawsense advert at all
    except (airmod.AirError, KeyStoreError) as e:
        return fail(str(e))
    except BrokenPipeError:
        if rx is not None:
            rx.flush()  # whoever read our output went away: keep what was accepted
        raise
    except (BleakError, OSError) as e:  # no adapter, no BlueZ/D-Bus, adapter off
        return fail(f"no Bluetooth adapter to listen with ({type(e).__name__}: {e}); check that bluetoothd runs "
                    f"and the adapter is up, or use --air FILE for recorded/simulated air")
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM: keep what was accepted, say what was heard
        if rx is None:
            raise
        stopped = e
    try:
        rx.flush()
    except KeyStoreError as e:
        return fail(f"{e}: replay floors accepted since are not on disk")
    for t in children:
        t.join()
    c = rx.counts
    rejected = ", ".join(f"{r} {c[r]}" for r in ("forged", "replay", "malformed", "unknown") if c[r]) or "none"
    note(f"drawsense listen: {c['events']} events from {c['accepted']} verified adverts "
         f"({c['repeat']} repeats folded); rejected: {rejected}" + ("; interrupted" if stopped else ""))
    return interrupt_status(stopped) if stopped else 0
