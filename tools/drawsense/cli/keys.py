"""drawsense keys: the receiver's key store (drawsense.keystore): add, list,
remove, export. Secrets are never printed."""

from __future__ import annotations

import argparse
import json

from drawsense.cli.common import keys_option, open_store
from drawsense.console import fail
from drawsense.keystore import KeyStoreError, check_name

HELP = "manage the key store (devices and their secrets)"
DESCRIPTION = "The receiver's key store: an SQLite file, mode 0600. Secrets are never printed."
FORMATTER = argparse.HelpFormatter


def add_arguments(k: argparse.ArgumentParser) -> None:
    keys_option(k)
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
        keys_option(action, default=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        if args.keys_cmd == "add":
            check_name(args.name)  # before the store is created
        store = open_store(args.keys, create=args.keys_cmd == "add")
        if args.keys_cmd == "add":
            dev = store.add(args.name)
            print(f"added {dev.name} (id {dev.id_hex}) to {store.path}")
        elif args.keys_cmd == "remove":
            gone = store.remove(args.name)
            print(f"removed {args.name} from {store.path}"
                  + (f", and its simulated device's flash ({gone[0]})" if gone else ""))
        elif args.keys_cmd == "export":
            out = store.export(args.dest)
            print(f"exported {len(store.devices())} device(s) from {store.path} to {out} (mode 0600)")
        else:
            _list(store, args.json)
        store.close()
    except KeyStoreError as e:
        return fail(str(e))
    return 0


def _list(store, as_json: bool) -> None:
    devs, bad = store.devices(), store.damaged()
    if as_json:
        for d in devs:
            print(json.dumps({"name": d.name, "id": d.id_hex, "last_counter": d.last_counter,
                              "last_seen": d.last_seen, "battery_mv": d.battery_mv,
                              "battery_low": d.battery_low}))
        for b in bad:
            print(json.dumps({"name": b.name, "row": b.row, "damaged": b.why}))
    elif not devs and not bad:
        print(f"no devices in {store.path}")
    else:
        print(f"{'name':<20} {'id':<16} {'last counter':>12}  battery")
        for d in devs:
            mv = f"{d.battery_mv} mV" if d.battery_mv else "-"
            print(f"{d.name:<20} {d.id_hex:<16} {d.last_counter:>12}  {mv}")
        for b in bad:  # unusable: listen leaves it out
            print(f"{b.name:<20} DAMAGED (row {b.row}): {b.why}")
