"""The drawsense command line: one verb table, one module per verb.

Each verb is a module here with HELP, DESCRIPTION (and EPILOG, FORMATTER
where it has them), ``add_arguments(parser)`` and ``run(args) -> exit status``
(or, for a verb with actions such as ``board serve|poke``, one function per
action set by add_arguments). What needs bleak or mpremote is imported only
when the verb runs. Errors: drawsense.console.fail (one line, non-zero).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from drawsense import __version__
from drawsense.cli import bench, board, boards, deploy, fleet, keys, listen, log, power, provision, sim
from drawsense.console import Interrupted, interrupted

_EPILOG = """\
examples:
  drawsense sim                          the default scenario (a draw) on the virtual board
  drawsense sim --board esp32c3          the same on the ESP32-C3, waking from deep sleep
  drawsense sim vibration                running with the gun holstered: no draw expected
  drawsense sim capture.sr --vcd out.vcd    a logic-analyser capture (sigrok/PulseView .sr or .csv, Saleae .csv);
                                            waveforms for GTKWave/PulseView/sigrok-cli
  drawsense sim --json | jq 'select(.type=="adv")'
  drawsense sim --keys k.db --json | drawsense listen --air - --keys k.db
  drawsense power --board esp32c3 --cell CR2477 --plot life.png
  drawsense board serve --root ./vb          then: mpremote connect <printed pty> ...
  drawsense boards

exit status: 0 done; 2 refused, nothing changed; 1 failed part-way or a check failed;
130 / 143 stopped by Ctrl-C / SIGTERM (one line on stderr)
"""


# The verbs, in the order --help lists them (mpremote's _COMMANDS is the model).
COMMANDS = {
    "sim": sim,              # pin -> firmware -> radio, on the virtual board
    "listen": listen,        # air -> verify -> event -> action
    "keys": keys,            # the receiver's key store
    "power": power,          # battery life from the simulated timeline
    "fleet": fleet,          # every device's battery, as the receiver heard it
    "deploy": deploy,        # firmware onto a board
    "provision": provision,  # a device's key onto a board and into the store
    "bench": bench,          # a board's self-test and a verified TEST burst
    "log": log,              # a sensor's event log, read and verified
    "board": board,          # a virtual board on a pty (serve) and its sensor (poke)
    "boards": boards,        # the board definitions
}


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
    for name, verb in COMMANDS.items():
        v = sub.add_parser(name, help=verb.HELP, description=verb.DESCRIPTION, epilog=getattr(verb, "EPILOG", None),
                           formatter_class=getattr(verb, "FORMATTER", argparse.RawDescriptionHelpFormatter))
        verb.add_arguments(v)
        if hasattr(verb, "run"):
            v.set_defaults(func=verb.run)
    return p


def _terminated(signum, frame) -> None:
    # one SIGTERM is enough: a second one (a supervisor that repeats itself)
    # must not cut the cleanup short with a traceback
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (a timeout, a supervisor) unwinds like Ctrl-C: temporary folders
    # (a simulated device's flash and key) and half-written files are removed
    # on the way out, and either ends here as one line and 130 / 143. (SIGINT
    # keeps Python's handler, KeyboardInterrupt, or the SIG_IGN a shell gives
    # a background job.)
    signal.signal(signal.SIGTERM, _terminated)
    prog = "drawsense"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        prog = " ".join(filter(None, ("drawsense", args.cmd, getattr(args, f"{args.cmd}_cmd", None))))
        return args.func(args)
    except KeyboardInterrupt as e:
        return interrupted(e, prog=prog)
    except BrokenPipeError:
        # The reader went away (drawsense sim --json | head -1): nothing to
        # report. Point stdout at /dev/null so the interpreter's own flush at
        # exit does not fail again (the Python docs' recipe for SIGPIPE).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
