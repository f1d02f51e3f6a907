"""drawsense fleet: every device in the key store with its battery, trend,
days left and flags (receive.fleet over the readings the receiver stored)."""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

from drawsense.cli.argtypes import number
from drawsense.cli.common import keys_option
from drawsense.console import fail
from drawsense.keystore import KeyStore, KeyStoreError, default_path
from drawsense.model import cell
from drawsense.receive import fleet

HELP = "battery and last-heard status of every device in the key store"
DESCRIPTION = ("Every device in the key store: when it was last heard, its battery (mV, state of "
               "charge on the chosen cell's curve, trend over the last 30 days by least squares, days "
               "until the low threshold at that trend) and flags: LOW (the device says so, or below "
               "--low-mv), SILENT (not heard for more than two heartbeat periods, or never) and DAMAGED (its key store "
               "row is unusable, so no receiver hears it: drawsense keys list says why).")
EPILOG = "examples:\n  drawsense fleet\n  drawsense fleet --cell CR2450 --json | jq 'select(.low)'"


def add_arguments(f: argparse.ArgumentParser) -> None:
    keys_option(f)
    f.add_argument("--json", action="store_true", help="one JSON object per device")
    f.add_argument("--cell", default="CR2032", choices=sorted(cell.CELLS),
                   help="the devices' coin cell, for the state of charge (default: CR2032)")
    f.add_argument("--heartbeat-h", metavar="H", type=number(0, 10_000, above=True), default=6.0,
                   help="the devices' heartbeat period in hours; SILENT after two missed (default: 6)")
    f.add_argument("--low-mv", metavar="MV", type=number(0, 5000), default=2500,
                   help="battery low threshold in mV (default: 2500)")
    f.add_argument("--now", metavar="T", type=number(0, 1e11), default=None,
                   help="the time to judge from, Unix seconds (default: now; e.g. the end of simulated "
                        "air, which 'drawsense listen --air' plays from the moment it starts)")


def run(args: argparse.Namespace) -> int:
    path = args.keys or default_path()
    now = time.time() if getattr(args, "now", None) is None else args.now
    try:
        store = KeyStore(path, create=False)
        try:
            rows = fleet.status(store, now=now, heartbeat_h=args.heartbeat_h, cell=args.cell, low_mv=args.low_mv)
        finally:
            store.close()
    except KeyStoreError as e:
        return fail(str(e))
    except sqlite3.DatabaseError as e:  # damaged after a successful open
        return fail(f"{path}: cannot read the key store ({e})")
    if args.json:
        for s in rows:
            print(json.dumps(fleet.as_json(s)))
        return 0
    if not rows:
        print(f"no devices in {path}")
        return 0
    print(f"{'name':<20} {'last seen':>12} {'battery':>8} {'%':>4} {'mV/day':>7} {'days left':>9}  flags")
    for s in rows:
        seen = fleet.ago(None if s.last_seen is None else now - s.last_seen)
        mv = "-" if s.battery_mv is None else f"{s.battery_mv} mV"
        pct = "-" if s.percent is None else f"{s.percent:.0f}"
        tr = "-" if s.trend_mv_per_day is None else f"{s.trend_mv_per_day:+.1f}"
        left = "-" if s.days_left is None else f"{s.days_left:.0f}"
        why = f" (row: {s.damaged})" if s.damaged else ""
        print(f"{s.name:<20} {seen:>12} {mv:>8} {pct:>4} {tr:>7} {left:>9}  {' '.join(s.flags)}{why}".rstrip())
    return 0
