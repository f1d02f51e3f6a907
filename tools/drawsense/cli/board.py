"""drawsense board serve | poke: a virtual board behind a pty that unmodified
mpremote drives (sim.serve), and its sensor and battery moved while it runs."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from drawsense import boards, paths
from drawsense.cli.argtypes import heapsize, number
from drawsense.console import fail, note

HELP = "serve a virtual board on a pty for mpremote, and poke its sensor"
DESCRIPTION = ("Boards. 'serve' runs the virtual board behind a pty that unmodified "
               "mpremote can drive (exec, run, cp, fs, soft-reset, mount, repl); 'poke' "
               "moves its sensor or sets its battery while it runs.")
FORMATTER = argparse.HelpFormatter
_RAW = argparse.RawDescriptionHelpFormatter


def add_arguments(bd: argparse.ArgumentParser) -> None:
    bsub = bd.add_subparsers(dest="board_cmd", metavar="ACTION", required=True)
    p = bsub.add_parser(
        "serve", help="serve a virtual board on a pty for mpremote",
        description="Run the virtual board (MicroPython unix port + the strict hardware fakes) behind a pty "
                    "that mpremote drives like a board on a serial port: its filesystem is DIR, main.py runs "
                    "at boot, Ctrl-C interrupts, Ctrl-D soft-resets. Prints the /dev/pts/N path to connect to "
                    "on its first line.",
        epilog="example:\n  drawsense board serve --root ./vb &\n  mpremote connect /dev/pts/5 soft-reset exec "
               "\"print(6*7)\"",
        formatter_class=_RAW)
    p.add_argument("--root", type=Path, metavar="DIR",
                   help="host folder that is the board's filesystem, made if missing (default: a new empty "
                        "temporary folder)")
    p.add_argument("--board", default="virtual", help="board definition (default virtual)")
    p.add_argument("--heapsize", default="192K", type=heapsize,
                   help="MicroPython heap, e.g. 192K or 2M (default 192K, about an ESP32-C3's)")
    p.add_argument("--days", type=number(0, 3650, above=True), default=10.0,
                   help="length of the holstered timeline (default 10)")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="append the virtual board's @vb event lines (its simulated air) to this file")
    p.add_argument("--control", type=Path, metavar="FILE",
                   help="the file 'drawsense board poke --control FILE' writes to move the sensor and set the "
                        "battery while the board runs; the board starts holstered on a full cell (default: one "
                        "in a temporary folder)")
    p.add_argument("-v", "--verbose", action="store_true", help="log boots and resets on stderr")
    p.set_defaults(func=serve)

    p = bsub.add_parser(
        "poke", help="move a served virtual board's sensor, or set its battery, while it runs",
        description="Change what the virtual board of 'drawsense board serve --control FILE' senses: the "
                    "holster sensor (in = holstered, out = drawn) and the cell's voltage at rest. The running "
                    "firmware sees the change within 50 ms.",
        epilog="example:\n  drawsense board serve --root vb --control vb.ctl &\n"
               "  drawsense board poke --control vb.ctl --sensor out      (a draw)\n"
               "  drawsense board poke --control vb.ctl --battery 2450\n"
               "  drawsense board poke --control vb.ctl --play draw-reholster   (a scenario, in real time)",
        formatter_class=_RAW)
    p.add_argument("--control", type=Path, required=True, metavar="FILE", help="the served board's control file")
    p.add_argument("--sensor", choices=("in", "out"), help="in: holstered; out: drawn")
    p.add_argument("--battery", type=int, metavar="MV", help="the cell's voltage at rest, mV")
    p.add_argument("--play", metavar="SCENARIO",
                   help="move the sensor through a scenario (a built-in name or a .toml/.csv/.sr file, as "
                        "'drawsense sim' takes) in real time: the levels that hold 50 ms or more, since the "
                        "board reads the control file every 50 ms (bounce and chatter are the simulator's)")
    p.set_defaults(func=poke)


def poke(args: argparse.Namespace) -> int:
    from drawsense.sim import serve as served

    prog = "drawsense board poke"
    if args.sensor is None and args.battery is None and args.play is None:
        return fail("say what to change: --sensor in|out, --battery MV, or --play SCENARIO", prog=prog)
    if args.play is not None and args.sensor is not None:
        return fail("--play moves the sensor itself: give --play or --sensor, not both", prog=prog)
    if args.battery is not None and not 1000 <= args.battery <= 4500:
        return fail(f"--battery {args.battery}: give the cell's voltage in mV (1000-4500)", prog=prog)
    if not args.control.exists():
        return fail(f"{args.control}: no such control file (give the path 'drawsense board serve --control' "
                    f"was given, while it runs)", prog=prog)
    scen = None
    if args.play is not None:
        from drawsense.sim import scenario

        try:
            scen = scenario.load(args.play)
        except scenario.ScenarioError as e:
            return fail(str(e), prog=prog)
    try:
        if args.sensor is not None or args.battery is not None:
            print(json.dumps(served.poke(args.control, sensor=args.sensor, battery_mv=args.battery)))
        if scen is not None:
            note(f"playing '{scen.name}' onto the served board ({scen.duration_us / 1e6:g} s, real time): "
                 f"{scen.description}")
            served.play(args.control, scen, say=lambda line: print(line, flush=True))
    except served.PokeError as e:
        return fail(str(e), prog=prog)
    return 0


def serve(args: argparse.Namespace) -> int:
    from drawsense.sim import serve as served

    def ready(path: str) -> None:
        print(path, flush=True)
        if sys.stderr.isatty():
            note(f"mpremote connect {path}   (Ctrl-C here stops the board)")

    made = args.root is None
    try:
        boards.load(args.board)  # before a folder is made for it
        if made:
            args.root = Path(tempfile.mkdtemp(prefix="drawsense-board-"))
            note(f"drawsense board serve: the board's filesystem is {args.root}")
        served.serve(args.root, args.board, ready=ready, heapsize=args.heapsize, days=args.days,
                     events=args.events, control=args.control, log=note if args.verbose else None)
    except (served.ServeError, boards.BoardError, paths.RuntimeMissing, served.PokeError) as e:
        if made and args.root is not None and not any(args.root.iterdir()):
            args.root.rmdir()  # the board never ran: no folder of ours is left behind
        return fail(str(e), prog="drawsense board serve")
    return 0
