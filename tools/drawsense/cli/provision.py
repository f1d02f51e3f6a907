"""drawsense provision: a device's secret made here, written to the board,
checked by hash and registered in the key store (device.provision)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drawsense.cli.common import port_option
from drawsense.console import fail, warn
from drawsense.keystore import default_path

HELP = "give a device its secret key and register it in the key store"
DESCRIPTION = ("Create a device's 256-bit secret and 8-byte id on this computer, write them to the board "
               "(ds_key.bin, and ds_ctr.bin with the counter at 0) with mpremote, check them by hash, and "
               "add the device to the key store. The secret is never printed or put on a command line. "
               "Refuses to replace a device's identity, or a name already in the store, without --force. "
               "If the key store cannot be written the device is put back as it was.")
EPILOG = ("examples:\n"
          "  drawsense provision --port /dev/ttyACM0 --name holster-1\n"
          "  drawsense provision --port /dev/ttyACM0 --name holster-1 --force   (re-key: new secret)\n"
          "  drawsense provision --port /dev/pts/5 --name vb --keys k.db        (a served virtual board)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    port_option(p)
    p.add_argument("--name", required=True, help="the device's name in the key store")
    p.add_argument("--keys", type=Path, metavar="FILE",
                   help=f"key store (default $DRAWSENSE_KEYS or {default_path()}; created if missing)")
    p.add_argument("--force", action="store_true",
                   help="re-key a device that already has an identity, or a name already in the store "
                        "(new secret, counter and replay floor start over)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    from drawsense.device import provision
    from drawsense.device.remote import RemoteError

    try:
        r = provision.provision(args.port, args.name, args.keys, force=args.force)
    except (provision.ProvisionError, RemoteError) as e:
        return fail(str(e))
    for w in r["warnings"]:
        warn(w)
    if args.json:
        print(json.dumps(r))
    else:
        verb = "re-keyed" if r["rekeyed"] else "provisioned"
        print(f"{verb} {r['name']}: device id {r['device_id']} on {r['port']}, counter from 0; "
              f"registered in {r['keys']}")
        print("reset the board (or power-cycle it) to start sending under the new key")
    return 0
