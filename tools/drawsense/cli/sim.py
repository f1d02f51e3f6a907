"""drawsense sim: the firmware on the virtual board, its sensor following a
scenario, in virtual time; what it did and what went on air.

Pipeline: sim.scenario (the sensor line) -> sim.vboard (the unmodified
firmware under MicroPython, on the strict fakes) -> sim.events -> sim.timeline
(text, JSON lines, VCD)."""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
from pathlib import Path

from drawsense import boards, paths
from drawsense.cli.argtypes import fault
from drawsense.cli.common import simulation_failed
from drawsense.console import fail, note
from drawsense.keystore import KeyStore, KeyStoreError
from drawsense.sim import scenario, timeline, vboard

HELP = "run the firmware on the virtual board through a scenario"
DESCRIPTION = ("Run the unmodified firmware under MicroPython on the virtual board, its sensor "
               "following SCENARIO in virtual time, and show what it did and what went on air.")
EPILOG = ("built-in scenarios: " + ", ".join(scenario.builtin_names())
          + "\nA SCENARIO may also be a .toml file (format: drawsense/sim/scenario.py docstring) or a "
            "logic-analyzer .csv capture of the sensor line (time in s, level).")


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("scenario", nargs="?", default="draw", metavar="SCENARIO|FILE",
                   help="built-in scenario name or a .toml/.csv file (default: draw)")
    s.add_argument("--board", default="virtual", metavar="NAME",
                   help="board definition to emulate (default: virtual, an idealised board that light-sleeps "
                        "with its radio ready; esp32c3 deep-sleeps; see: drawsense boards)")
    s.add_argument("--json", action="store_true",
                   help="one JSON object per line (t_ms, type, ...): pin, level, state, burst, radio, adv, ...")
    s.add_argument("--vcd", metavar="FILE", help="also write a Value Change Dump of sensor, level, state, radio")
    s.add_argument("--keys", metavar="FILE", type=Path,
                   help="provision the virtual device into this key store (created if missing) and keep its "
                        "flash beside it, so 'drawsense listen --keys FILE' verifies what it sends")
    s.add_argument("--name", metavar="NAME", help="device name in the key store (default: sim-BOARD)")
    s.add_argument("--unprovisioned", action="store_true",
                   help="run without a key: the firmware says so and sends nothing")
    s.add_argument("--inject", metavar="KIND@MS", type=fault, action="append", default=[],
                   help="inject a fault once, at its first chance from MS ms into the run: flash (a flash write "
                        "the chip refuses), radio (the radio call raises), hang (the firmware stops feeding its "
                        "watchdog); repeatable. Shows how the sensor reports it and recovers")


class _Refused(Exception):
    pass


def _identity(args: argparse.Namespace) -> tuple[bytes | None, bytes, bytes | None, Path | None]:
    """(secret, device id, log key, flash image) the virtual device runs with."""
    if not args.keys:
        if args.unprovisioned:
            return None, bytes(8), None, None
        return secrets.token_bytes(32), secrets.token_bytes(8), secrets.token_bytes(16), None  # a throwaway identity
    # Provision the virtual device into the key store (created if need be);
    # its flash is kept beside the store so its counter carries on from run
    # to run, as a real device's would.
    name = f"sim-{args.board}" if args.name is None else args.name  # "" is refused by the store
    flash_dir = Path(str(args.keys) + ".sim")
    flash = flash_dir / f"{name}.flash"
    try:
        flash_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # before the store: a failure changes nothing
    except OSError as e:
        raise _Refused(f"cannot make the virtual flash folder {flash_dir} ({e.strerror or e})") from None
    try:
        store = KeyStore(args.keys)
        dev = store.get(name)
        if dev is None:
            dev = store.add(name)
        elif not flash.exists():
            # Its flash (and so its counter) is gone: a wiped device must
            # not send under its old key again.
            dev = store.rekey(name)
            note(f"drawsense: {name}'s virtual flash was missing ({flash}); it gets a new key")
        store.close()
    except KeyStoreError as e:
        raise _Refused(str(e)) from None
    return dev.secret, dev.device_id, dev.log_key, flash


def run(args: argparse.Namespace) -> int:
    try:
        board = boards.load(args.board)
        scen = scenario.load(args.scenario, holstered_level=board["HOLSTERED_LEVEL"])
        secret, device_id, log_key, flash = _identity(args)
    except (boards.BoardError, scenario.ScenarioError, _Refused) as e:
        return fail(str(e))
    if args.vcd:
        try:
            open(args.vcd, "a").close()
        except OSError as e:
            return fail(f"cannot write {args.vcd}: {e.strerror}")
    if not args.json:
        who = "unprovisioned" if secret is None else ("device " + (args.name or f"sim-{args.board}")
                                                        if args.keys else "a throwaway key")
        print(f"simulating {scen.name!r} on {board.title} ({who}): {scen.description}", file=sys.stderr)
    try:
        result = vboard.run(scen, args.board, secret=secret, device_id=device_id, log_key=log_key, flash_image=flash,
                            faults=args.inject)
    except paths.RuntimeMissing as e:
        return fail(str(e))
    except (vboard.FirmwareCrash, subprocess.TimeoutExpired) as e:
        return simulation_failed(e, "a shorter scenario?")
    if args.vcd:
        try:
            with open(args.vcd, "w") as f:
                timeline.write_vcd(result, f)
        except OSError as e:
            return fail(f"cannot write {args.vcd}: {e.strerror}")
    if args.json:
        timeline.write_json(result, sys.stdout)
    else:
        timeline.write_text(result, sys.stdout)
        if args.vcd:
            print(f"waveforms written to {args.vcd} (open with gtkwave or PulseView)")
    return 0
