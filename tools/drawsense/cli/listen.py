"""drawsense listen: the reference camera-side receiver (receive.listen), from
a real adapter through bleak or from simulated air."""

from __future__ import annotations

import argparse

from drawsense.cli.argtypes import number, whole
from drawsense.cli.common import keys_option, open_store
from drawsense.keystore import KeyStore

HELP = "receive, verify and act on sensor adverts (bleak, or simulated air)"
DESCRIPTION = ("The reference camera-side receiver. It verifies each advert's AES-CCM tag with the keys "
               "in the key store, resolves the device from its rotating hint, rejects forgeries, replays "
               "(the last counter is kept on disk across restarts) and malformed frames, folds a burst "
               "into one event, and prints events. With --on-draw it runs a command once per draw.")
EPILOG = ("examples:\n  drawsense sim --keys k.db --json | drawsense listen --air - --keys k.db --json\n"
          "  drawsense listen --keys k.db --on-draw 'start-recording.sh'        (a real adapter, via bleak)\n"
          "\n--on-draw gets the event in environment variables: DRAWSENSE_EVENT, DRAWSENSE_DEVICE, "
          "DRAWSENSE_COUNTER,\nDRAWSENSE_SINCE_DRAW_MS, DRAWSENSE_BATTERY_MV, DRAWSENSE_RSSI, DRAWSENSE_ADDR.")


def add_arguments(ls: argparse.ArgumentParser) -> None:
    ls.add_argument("--air", metavar="FILE",
                    help="simulated air instead of a radio: JSON lines of 'drawsense sim --json', or a served board's "
                         "'board serve --events' file ('-' = stdin)")
    keys_option(ls)
    ls.add_argument("--json", action="store_true", help="one JSON object per event")
    ls.add_argument("--on-draw", metavar="CMD", help="shell command to run once per draw")
    ls.add_argument("--adapter", metavar="NAME", help="Bluetooth adapter for a real radio (e.g. hci0)")
    ls.add_argument("--duration", metavar="S", type=number(0, 1e9, above=True),
                    help="stop after S seconds (real radio)")
    ls.add_argument("--window", metavar="N", type=whole(1, 100_000),
                    help="bursts past the last accepted one in which a device is always recognised (default: "
                         "as many as a ~10**6-entry index allows, from 4096 for a few keys to 64 for 10,000+)")


def run(args: argparse.Namespace) -> int:
    from drawsense.receive import listen  # bleak: only when listening

    opened: list[KeyStore] = []

    def store() -> KeyStore:
        opened.append(open_store(args.keys, create=False))
        return opened[-1]

    try:
        return listen.run(store, source=args.air, as_json=args.json, on_draw=args.on_draw,
                          adapter=args.adapter, duration=args.duration, window=args.window)
    finally:
        for s in opened:
            s.close()
