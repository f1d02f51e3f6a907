"""drawsense deploy: compile the firmware for a board, copy what changed with
mpremote, verify by hash, reset (device.deploy)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drawsense.console import fail, note

HELP = "copy the firmware to a board (only what changed) and reset it"
DESCRIPTION = ("Compile the firmware with mpy-cross for the board's architecture, check that the device "
               "is MicroPython, can load the files and is that board, copy the files that differ (by "
               "SHA-256) with mpremote, remove stale .py/.mpy twins, verify every file and reset the "
               "board so the new firmware runs. Never touches ds_key.bin / ds_ctr.bin (see: drawsense "
               "provision).")
EPILOG = ("examples:\n"
          "  drawsense deploy --port /dev/ttyACM0 --board esp32c3\n"
          "  drawsense deploy --port /dev/pts/5 --board virtual --source   (after: drawsense board serve)\n"
          "\nexit status: 0 deployed; 2 refused, nothing on the device changed (no port, not MicroPython,\n"
          "another board, incompatible .mpy, build error); 1 failed after copying began (run it again);\n"
          "130 / 143 stopped by Ctrl-C / SIGTERM (if copying had begun, run it again).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, metavar="PORT",
                   help="the board's serial port (/dev/ttyACM0, COM3) or the pty of 'drawsense board serve'")
    p.add_argument("--board", required=True, metavar="NAME", help="board definition (see: drawsense boards)")
    p.add_argument("--source", action="store_true",
                   help="copy .py files instead of .mpy (for debugging; replaces the .mpy files)")
    p.add_argument("--force", action="store_true",
                   help="deploy even if the device says it is another board (its board.py is replaced)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--firmware", type=Path, metavar="DIR",
                   help="firmware folder to deploy (default: the project's firmware/)")


def run(args: argparse.Namespace) -> int:
    from drawsense.device import deploy

    try:
        s = deploy.deploy(args.port, args.board, source=args.source, force=args.force, firmware=args.firmware,
                          log=note)
    except deploy.DeployError as e:
        return fail(str(e), e.code, prog="drawsense deploy")
    print(json.dumps(s) if args.json else deploy.summary_line(s))
    return 0
