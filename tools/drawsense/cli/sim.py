"""drawsense sim: the firmware on the virtual board, its sensor following a
scenario, in virtual time; what it did and what went on air.

Pipeline: sim.scenario (the sensor line) -> sim.vboard (the unmodified
firmware under MicroPython, on the strict fakes) -> sim.events -> sim.timeline
(text, JSON lines, VCD)."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

from drawsense import boards, outfile, paths
from drawsense.cli.argtypes import fault
from drawsense.cli.common import simulation_failed
from drawsense.console import fail, note
from drawsense.keystore import KeyStore, KeyStoreError, check_name, sim_flash
from drawsense.sim import capture, scenario, timeline, vboard

HELP = "run the firmware on the virtual board through a scenario"
DESCRIPTION = ("Run the unmodified firmware under MicroPython on the virtual board, its sensor "
               "following SCENARIO in virtual time, and show what it did and what went on air.")
EPILOG = ("built-in scenarios: " + ", ".join(scenario.builtin_names())
          + "\nA SCENARIO may also be a .toml file (format: drawsense/sim/scenario.py docstring) or a "
            "logic-analyser capture of the sensor line: a sigrok-cli/PulseView CSV (any -O csv options) "
            "or .sr session file, a Saleae Logic CSV export, or time,level rows under a header that names "
            "the unit (Time [ms]). Formats: drawsense/sim/capture.py.\nExit status 1 when the run "
            "does not show what the scenario's 'expect' says (a built-in's description says it too).")


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("scenario", nargs="?", default="draw", metavar="SCENARIO|FILE",
                   help="built-in scenario name, a .toml scenario or a capture (.csv, .sr) (default: draw)")
    s.add_argument("--board", default="virtual", metavar="NAME",
                   help="board definition to emulate (default: virtual, an idealised board that light-sleeps "
                        "with its radio ready; esp32c3 deep-sleeps; see: drawsense boards)")
    s.add_argument("--json", action="store_true",
                   help="one JSON object per line (t_ms, type, ...): pin, level, state, burst, radio, adv, ...")
    s.add_argument("--vcd", metavar="FILE", help="also write a Value Change Dump (one-bit wires, 1 us: sensor, debounced_out, "
                                          "state_holstered/drawn/fault, radio_on, adv, asleep, deep_sleep, boot, "
                                          "brownout) for GTKWave, PulseView or sigrok-cli -I vcd")
    s.add_argument("--keys", metavar="FILE", type=Path,
                   help="provision the virtual device into this key store (created if missing) and keep its "
                        "flash beside it, so 'drawsense listen --keys FILE' verifies what it sends")
    s.add_argument("--name", metavar="NAME", help="device name in the key store (default: sim-BOARD)")
    s.add_argument("--unprovisioned", action="store_true",
                   help="run without a key: the firmware says so and sends nothing")
    s.add_argument("--inject", metavar="KIND@MS", type=fault, action="append", default=[],
                   help="inject a fault once, at its first chance from MS ms into the run: flash (a flash write "
                        "the chip refuses), radio (the radio call raises), hang (the firmware stops feeding its "
                        "watchdog); repeatable. Shows how the sensor reports it and recovers (the scenario's expect is "
                        "not checked: the fault changes the run on purpose)")
    cap = s.add_argument_group("captures (a .csv or .sr SCENARIO)")
    cap.add_argument("--channel", metavar="NAME|N",
                     help="the channel that is the sensor line, by name as the file gives it (D0, Channel 1) or "
                          "a number counting the file's channels from 0 (default: the first)")
    cap.add_argument("--samplerate", metavar="RATE", type=_rate,
                     help="the rate the capture was taken at (1k, 200k, 1M, in Hz), for a file that does not "
                          "say it (sigrok's CSV without its comments); overrides the file's")
    cap.add_argument("--time-unit", choices=capture.UNIT_CHOICES,
                     help="the unit of the time column, for a file whose header does not name it; overrides it")


def _rate(text: str) -> float:
    try:
        return capture.parse_rate(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    name = f"sim-{args.board}" if args.name is None else args.name
    try:
        check_name(name)  # before anything is created
    except KeyStoreError as e:
        raise _Refused(f"--name: {e}") from None
    flash = sim_flash(args.keys, name)
    # which key the flash was provisioned with (a digest, never the key):
    # the store's row may have been removed, re-added or re-keyed since
    tag = flash.with_suffix(".key")
    try:
        flash.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # before the store: a failure changes nothing
    except OSError as e:
        raise _Refused(f"cannot make the virtual flash folder {flash.parent} ({e.strerror or e})") from None
    try:
        store = KeyStore(args.keys)
        dev = store.get(name)
        fresh = dev is None
        if fresh:
            dev = store.add(name)
        if flash.exists() and (not tag.exists() or tag.read_text().strip() != _key_tag(dev)):
            # A flash provisioned with another key (the device was removed
            # and added again, or re-keyed): it would boot that key, and
            # every advert would be 'unknown'. It goes; the device starts
            # blank, with the store's key.
            flash.unlink()
            note(f"drawsense: {flash} held another key than {name}'s in {args.keys}: the virtual device "
                 f"starts from a blank flash")
        if not fresh and not flash.exists():
            # Its flash (and so its counter) is gone: a wiped device must
            # not send under its old key again.
            dev = store.rekey(name)
            note(f"drawsense: {name}'s virtual flash was missing ({flash}); it gets a new key")
        store.close()
        _write_private(tag, _key_tag(dev))
    except KeyStoreError as e:
        raise _Refused(str(e)) from None
    except OSError as e:
        raise _Refused(f"cannot write {tag} ({e.strerror or e})") from None
    return dev.secret, dev.device_id, dev.log_key, flash


def _key_tag(dev) -> str:
    """A digest that tells which key a virtual flash holds; it reveals nothing
    of the 256-bit secret."""
    import hashlib

    return hashlib.sha256(b"drawsense virtual flash\0" + dev.device_id + dev.secret).hexdigest()


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def _refusal(args: argparse.Namespace) -> str | None:
    """What is wrong with the options together, before anything is created."""
    if args.unprovisioned and args.keys:
        return "--unprovisioned runs the device without a key; --keys provisions it: give one of them"
    if args.name is not None and not args.keys:
        return "--name names the device in a key store: give --keys FILE too"
    if args.vcd and outfile.problem(args.vcd):  # checked before simulating; written only at the end
        return f"cannot write {args.vcd}: {outfile.problem(args.vcd)}"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        board = boards.load(args.board)
        given = {k: v for k, v in (("channel", args.channel), ("samplerate", args.samplerate),
                                   ("time_unit", args.time_unit)) if v is not None}
        if given and Path(args.scenario).suffix.lower() not in scenario.CAPTURE_SUFFIXES:
            raise _Refused(f"--{next(iter(given)).replace('_', '-')} is for a capture file (.csv, .sr); "
                           f"{args.scenario!r} is not one")
        scen = scenario.load(args.scenario, holstered_level=board["HOLSTERED_LEVEL"], **given)
        why = _refusal(args)
        if why:
            return fail(why)
        secret, device_id, log_key, flash = _identity(args)
    except (boards.BoardError, scenario.ScenarioError, _Refused) as e:
        return fail(str(e))
    if not args.json:
        who = "unprovisioned" if secret is None else ("device " + (args.name or f"sim-{args.board}")
                                                        if args.keys else "a throwaway key")
        note(f"simulating {scen.name!r} on {board.title} ({who}): {scen.description}")
    try:
        result = vboard.run(scen, args.board, secret=secret, device_id=device_id, log_key=log_key, flash_image=flash,
                            faults=args.inject)
    except paths.RuntimeMissing as e:
        return fail(str(e))
    except (vboard.FirmwareCrash, subprocess.TimeoutExpired) as e:
        return simulation_failed(e, "a shorter scenario?")
    if args.vcd:
        try:
            with outfile.atomic(args.vcd) as part, open(part, "w") as f:
                timeline.write_vcd(result, f)
        except OSError as e:
            return fail(f"cannot write {args.vcd}: {e.strerror}")
    if args.json:
        timeline.write_json(result, sys.stdout)
    else:
        timeline.write_text(result, sys.stdout)
        if args.vcd:
            print(f"waveforms written to {args.vcd} (open with gtkwave or PulseView)")
    missed = [] if args.inject else timeline.unmet(result, scen.expect)
    if missed:
        return fail(f"scenario {scen.name!r} on {args.board} did not do what it expects: "
                    f"{'; '.join(missed)}", 1)
    return 0
