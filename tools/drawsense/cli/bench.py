"""drawsense bench: the firmware's self-test on a board through mpremote, a
TEST burst, and its verified reception (device.bench)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drawsense.cli.common import port_option
from drawsense.console import fail
from drawsense.keystore import default_path

TRIGGER_MS = 1000  # device.bench.TRIGGER_MS, without importing bleak for --help
HELP = "check a board on the bench: self-test table, TEST burst, verified reception"
DESCRIPTION = ("Run the firmware's self-test on the board through mpremote and show pass/fail: firmware "
               "version, board, sensor level, battery (a warning at 0 mV: divider not wired), key, "
               "counter file, free heap (> 20 KB), reset cause. --trigger sends a signed TEST burst "
               "(receivers never treat it as a draw); with --listen the burst must also be received and "
               "verified with the key store: by this computer's Bluetooth adapter, or for a virtual "
               "board from the events file of 'drawsense board serve --events FILE'. Then the board is "
               "reset, so its firmware runs again (mpremote stopped it for the checks). Exit status 0: "
               "all passed; 1: a check failed; 2: the bench could not run.")
EPILOG = ("examples:\n"
          "  drawsense bench --port /dev/ttyACM0\n"
          "  drawsense bench --port /dev/ttyACM0 --trigger --listen       (needs a BLE adapter)\n"
          "  drawsense board serve --root vb --events ev.log &             (prints /dev/pts/N)\n"
          "  drawsense bench --port /dev/pts/N --trigger --listen --events ev.log")


def add_arguments(p: argparse.ArgumentParser) -> None:
    port_option(p)
    p.add_argument("--trigger", action="store_true", help=f"send a TEST burst ({TRIGGER_MS} ms) and check it went "
                                                          f"out")
    p.add_argument("--listen", action="store_true",
                   help="with --trigger: check that the burst is received and verified (real radio via bleak, "
                        "or --events)")
    p.add_argument("--keys", type=Path, metavar="FILE",
                   help=f"key store (default $DRAWSENSE_KEYS or {default_path()}); needed by --listen")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="virtual board: the file 'drawsense board serve --events FILE' writes (its simulated "
                        "air), used by --listen instead of a radio")
    p.add_argument("--adapter", help="Bluetooth adapter for --listen, e.g. hci0 (BlueZ)")
    p.add_argument("--json", action="store_true", help="one JSON object: checks and the device's report")


def run(args: argparse.Namespace) -> int:
    from drawsense.device import bench
    from drawsense.device.remote import RemoteError

    try:
        rep, checks = bench.bench(args.port, keys=args.keys, trigger=args.trigger, listen=args.listen,
                                  events=args.events, adapter=args.adapter)
    except (bench.BenchError, RemoteError) as e:
        return fail(str(e))
    ok = not any(c.status == "FAIL" for c in checks)
    if args.json:
        print(json.dumps({"port": args.port, "ok": ok, "checks": [c.as_dict() for c in checks], "report": rep}))
    else:
        print(bench.format_table(args.port, checks))
    return 0 if ok else 1
