"""The drawsense command line."""

from __future__ import annotations

import argparse
import json
import os
import sys

import secrets
import signal
import subprocess
from pathlib import Path

from . import __version__, boards, paths, scenario, timeline, vboard
from .argtypes import fault, whole
from .keystore import KeyStore, KeyStoreError, default_path
from .vboard import ports

_EPILOG = """\
examples:
  drawsense sim                          the default scenario (a draw) on the virtual board
  drawsense sim --board esp32c3          the same on the ESP32-C3, waking from deep sleep
  drawsense sim vibration                running with the gun holstered: no draw expected
  drawsense sim capture.csv --vcd out.vcd   a logic-analyzer capture; waveforms for GTKWave/PulseView
  drawsense sim --json | jq 'select(.type=="adv")'
  drawsense sim --keys k.db --json | drawsense listen --air - --keys k.db
  drawsense power --board esp32c3 --cell CR2477 --plot life.png
  drawsense board serve --root ./vb          then: mpremote connect <printed pty> ...
  drawsense boards
"""


def _fail(msg: str, code: int = 2) -> int:
    print(f"drawsense: {msg}", file=sys.stderr)
    return code


def cmd_sim(args: argparse.Namespace) -> int:
    try:
        board = boards.load(args.board)
        scen = scenario.load(args.scenario, holstered_level=board["HOLSTERED_LEVEL"])
    except (boards.BoardError, scenario.ScenarioError) as e:
        return _fail(str(e))
    secret: bytes | None = None
    device_id = bytes(8)
    flash = None
    if args.keys:
        # Provision the virtual device into the key store (created if need
        # be); its flash is kept beside the store so its counter carries on
        # from run to run, as a real device's would.
        name = f"sim-{args.board}" if args.name is None else args.name  # "" is refused by the store
        flash_dir = Path(str(args.keys) + ".sim")
        flash = flash_dir / f"{name}.flash"
        try:
            flash_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # before the store: a failure changes nothing
        except OSError as e:
            return _fail(f"cannot make the virtual flash folder {flash_dir} ({e.strerror or e})")
        try:
            store = KeyStore(args.keys)
            dev = store.get(name)
            if dev is None:
                dev = store.add(name)
            elif not flash.exists():
                # Its flash (and so its counter) is gone: a wiped device must
                # not send under its old key again.
                dev = store.rekey(name)
                print(f"drawsense: {name}'s virtual flash was missing ({flash}); it gets a new key",
                      file=sys.stderr)
            store.close()
        except KeyStoreError as e:
            return _fail(str(e))
        secret, device_id = dev.secret, dev.device_id
    elif not args.unprovisioned:
        secret, device_id = secrets.token_bytes(32), secrets.token_bytes(8)  # a throwaway identity
    if args.vcd:
        try:
            open(args.vcd, "a").close()
        except OSError as e:
            return _fail(f"cannot write {args.vcd}: {e.strerror}")
    if not args.json:
        who = "unprovisioned" if secret is None else ("device " + (args.name or f"sim-{args.board}")
                                                        if args.keys else "a throwaway key")
        print(f"simulating {scen.name!r} on {board.title} ({who}): {scen.description}", file=sys.stderr)
    try:
        run = vboard.run(scen, args.board, secret=secret, device_id=device_id, flash_image=flash,
                         faults=args.inject)
    except paths.RuntimeMissing as e:
        return _fail(str(e))
    except vboard.FirmwareCrash as e:
        print(e.detail, file=sys.stderr)
        return _fail(str(e), 1)
    except subprocess.TimeoutExpired as e:
        return _fail(f"the simulation did not finish within {e.timeout:g} s of wall time (a shorter scenario?)", 1)
    if args.vcd:
        try:
            with open(args.vcd, "w") as f:
                timeline.write_vcd(run, f)
        except OSError as e:
            return _fail(f"cannot write {args.vcd}: {e.strerror}")
    if args.json:
        timeline.write_json(run, sys.stdout)
    else:
        timeline.write_text(run, sys.stdout)
        if args.vcd:
            print(f"waveforms written to {args.vcd} (open with gtkwave or PulseView)")
    return 0


def cmd_boards(args: argparse.Namespace) -> int:
    rows = []
    for name in boards.names():
        b = boards.load(name)
        rows.append({
            "name": name, "title": b.title, "port": b["PORT"], "sensor_pin": b["SENSOR_PIN"],
            "pull": b["SENSOR_PULL"], "holstered_level": b["HOLSTERED_LEVEL"], "wake": b["WAKE"],
            "adv_min_interval_ms": b["ADV_MIN_INTERVAL_US"] / 1000, "mpy_arch": b["MPY_ARCH"],
            "sensor": b["SENSOR_PART"], "sensor_sample_ms": b["SENSOR_SAMPLE_MS"],
        })
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"{'board':<9} {'port':<8} {'pin':>3} {'pull':<5} {'holstered':>9} {'wake':<5} {'adv min':>8}  description")
    for r in rows:
        print(f"{r['name']:<9} {r['port']:<8} {r['sensor_pin']:>3} {r['pull']:<5} {r['holstered_level']:>9} "
              f"{r['wake']:<5} {r['adv_min_interval_ms']:>6g}ms  {r['title']}")
    print()
    for r in rows:
        sample = f", samples every {r['sensor_sample_ms']} ms" if r["sensor_sample_ms"] else ""
        print(f"{r['name']:<9} sensor: {r['sensor']}{sample}")
    print(f"\n(board definitions: {paths.BOARDS}/<name>/board.py; what each port accepts: "
          f"{ports.DIR}/<port>.toml)")
    return 0


def _store(path: Path | None, *, create: bool) -> KeyStore:
    return KeyStore(path or default_path(), create=create)


def cmd_keys(args: argparse.Namespace) -> int:
    try:
        store = _store(args.keys, create=args.keys_cmd == "add")
        if args.keys_cmd == "add":
            dev = store.add(args.name)
            print(f"added {dev.name} (id {dev.id_hex}) to {store.path}")
        elif args.keys_cmd == "remove":
            store.remove(args.name)
            print(f"removed {args.name} from {store.path}")
        elif args.keys_cmd == "export":
            out = store.export(args.dest)
            print(f"exported {len(store.devices())} device(s) from {store.path} to {out} (mode 0600)")
        else:
            devs = store.devices()
            if args.json:
                for d in devs:
                    print(json.dumps({"name": d.name, "id": d.id_hex, "last_counter": d.last_counter,
                                      "last_seen": d.last_seen, "battery_mv": d.battery_mv,
                                      "battery_low": d.battery_low}))
            elif not devs:
                print(f"no devices in {store.path}")
            else:
                print(f"{'name':<20} {'id':<16} {'last counter':>12}  battery")
                for d in devs:
                    mv = f"{d.battery_mv} mV" if d.battery_mv else "-"
                    print(f"{d.name:<20} {d.id_hex:<16} {d.last_counter:>12}  {mv}")
        store.close()
    except KeyStoreError as e:
        return _fail(str(e))
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    from . import listen

    opened: list[KeyStore] = []

    def open_store() -> KeyStore:
        opened.append(_store(args.keys, create=False))
        return opened[-1]

    try:
        return listen.run(open_store, source=args.air, as_json=args.json, on_draw=args.on_draw,
                          adapter=args.adapter, duration=args.duration, window=args.window)
    finally:
        for s in opened:
            s.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drawsense",
        description="Holster draw sensor tools: run the MicroPython firmware on a virtual board, receive "
                    "and verify its signed adverts, manage the keys, model the battery, watch a fleet, and "
                    "drive boards (real, or virtual on a pty) with mpremote.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"drawsense {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    s = sub.add_parser(
        "sim", help="run the firmware on the virtual board through a scenario",
        description="Run the unmodified firmware under MicroPython on the virtual board, its sensor "
                    "following SCENARIO in virtual time, and show what it did and what went on air.",
        epilog="built-in scenarios: " + ", ".join(scenario.builtin_names())
               + "\nA SCENARIO may also be a .toml file (format: drawsense/scenario.py docstring) or a "
                 "logic-analyzer .csv capture of the sensor line (time in s, level).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    s.set_defaults(func=cmd_sim)

    ls = sub.add_parser(
        "listen", help="receive, verify and act on sensor adverts (bleak, or simulated air)",
        description="The reference camera-side receiver. It verifies each advert's AES-CCM tag with the keys "
                    "in the key store, resolves the device from its rotating hint, rejects forgeries, replays "
                    "(the last counter is kept on disk across restarts) and malformed frames, folds a burst "
                    "into one event, and prints events. With --on-draw it runs a command once per draw.",
        epilog="examples:\n  drawsense sim --keys k.db --json | drawsense listen --air - --keys k.db --json\n"
               "  drawsense listen --keys k.db --on-draw 'start-recording.sh'        (a real adapter, via bleak)\n"
               "\n--on-draw gets the event in environment variables: DRAWSENSE_EVENT, DRAWSENSE_DEVICE, "
               "DRAWSENSE_COUNTER,\nDRAWSENSE_SINCE_DRAW_MS, DRAWSENSE_BATTERY_MV, DRAWSENSE_RSSI, DRAWSENSE_ADDR.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--air", metavar="FILE",
                    help="simulated air instead of a radio: JSON lines of 'drawsense sim --json' ('-' = stdin)")
    ls.add_argument("--keys", metavar="FILE", type=Path, help=f"key store (default: {default_path()})")
    ls.add_argument("--json", action="store_true", help="one JSON object per event")
    ls.add_argument("--on-draw", metavar="CMD", help="shell command to run once per draw")
    ls.add_argument("--adapter", metavar="NAME", help="Bluetooth adapter for a real radio (e.g. hci0)")
    ls.add_argument("--duration", metavar="S", type=float, help="stop after S seconds (real radio)")
    ls.add_argument("--window", metavar="N", type=whole(1, 100_000),
                    help="bursts past the last accepted one in which a device is always recognised (default: "
                         "as many as a ~10**6-entry index allows, from 4096 for a few keys to 64 for 10,000+)")
    ls.set_defaults(func=cmd_listen)

    k = sub.add_parser("keys", help="manage the key store (devices and their secrets)",
                       description="The receiver's key store: an SQLite file, mode 0600. Secrets are "
                                   "never printed.")
    k.add_argument("--keys", metavar="FILE", type=Path, help=f"key store (default: {default_path()})")
    ksub = k.add_subparsers(dest="keys_cmd", metavar="ACTION", required=True)
    ka = ksub.add_parser("add", help="add a device with a fresh 256-bit secret")
    ka.add_argument("name")
    kl = ksub.add_parser("list", help="list devices (never their secrets)")
    kl.add_argument("--json", action="store_true", help="one JSON object per device")
    kr = ksub.add_parser("remove", help="remove a device")
    kr.add_argument("name")
    ke = ksub.add_parser("export", help="write a consistent copy of the store, safe while a listener runs",
                         description="Copy the key store with SQLite's backup API, replay floors included (a "
                                     "plain file copy of a store in use misses the newest ones, and the copy "
                                     "would then accept replayed adverts). For handing one store to several "
                                     "receivers.")
    ke.add_argument("dest", metavar="FILE", help="the new copy (must not exist; created mode 0600)")
    for action in (ka, kl, kr, ke):  # 'keys list --keys K' as well as 'keys --keys K list', like every other command
        action.add_argument("--keys", metavar="FILE", type=Path, default=argparse.SUPPRESS,
                            help=f"key store (default: {default_path()})")
    k.set_defaults(func=cmd_keys)

    from . import bench, deploy, fleet, power, provision, serve

    power.add_parser(sub)
    fleet.add_parser(sub)
    deploy.add_parser(sub)
    provision.add_parser(sub)
    bench.add_parser(sub)
    bd = sub.add_parser("board", help="serve a virtual board on a pty for mpremote, and poke its sensor",
                        description="Boards. 'serve' runs the virtual board behind a pty that unmodified "
                                    "mpremote can drive (exec, run, cp, fs, soft-reset, mount, repl); 'poke' "
                                    "moves its sensor or sets its battery while it runs.")
    bsub = bd.add_subparsers(dest="board_cmd", metavar="ACTION", required=True)
    serve.add_parser(bsub)
    serve.add_poke_parser(bsub)

    b = sub.add_parser("boards", help="list the supported boards",
                       description="List the board definitions under boards/ (pins, polarity, wake, radio).")
    b.add_argument("--json", action="store_true", help="one JSON object per board")
    b.set_defaults(func=cmd_boards)
    return p


def _terminated(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # SIGTERM (timeout, a supervisor) unwinds like Ctrl-C, so temporary
    # folders (a simulated device's flash and key) are removed on the way out
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (drawsense sim --json | head -1): nothing to
        # report. Point stdout at /dev/null so the interpreter's own flush at
        # exit does not fail again (the Python docs' recipe for SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
