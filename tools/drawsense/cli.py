"""The drawsense command line."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__, boards, paths, scenario, timeline, vboard

_EPILOG = """\
examples:
  drawsense sim                          the default scenario (a draw) on the ESP32-C3 board
  drawsense sim vibration                running with the gun holstered: no draw expected
  drawsense sim capture.csv --vcd out.vcd   a logic-analyzer capture; waveforms for GTKWave/PulseView
  drawsense sim --json | jq 'select(.type=="adv")'
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
    if not args.json:
        print(f"simulating {scen.name!r} on {board.title}: {scen.description}", file=sys.stderr)
    try:
        run = vboard.run(scen, args.board)
    except paths.RuntimeMissing as e:
        return _fail(str(e))
    except vboard.FirmwareCrash as e:
        print(e.detail, file=sys.stderr)
        return _fail(str(e), 1)
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
        })
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"{'board':<9} {'port':<8} {'pin':>3} {'pull':<5} {'holstered':>9} {'wake':<5} {'adv min':>8}  description")
    for r in rows:
        print(f"{r['name']:<9} {r['port']:<8} {r['sensor_pin']:>3} {r['pull']:<5} {r['holstered_level']:>9} "
              f"{r['wake']:<5} {r['adv_min_interval_ms']:>6g}ms  {r['title']}")
    print(f"\n(board definitions: {paths.BOARDS}/<name>/board.py)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drawsense",
        description="Holster draw sensor tools: run the MicroPython firmware on a virtual board, "
                    "and (in later releases) receive, provision and bench-test real ones.",
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
    s.add_argument("--board", default="esp32c3", metavar="NAME",
                   help="board definition to emulate (default: esp32c3; see: drawsense boards)")
    s.add_argument("--json", action="store_true",
                   help="one JSON object per line (t_ms, type, ...): pin, level, state, burst, radio, adv, ...")
    s.add_argument("--vcd", metavar="FILE", help="also write a Value Change Dump of sensor, level, state, radio")
    s.set_defaults(func=cmd_sim)

    b = sub.add_parser("boards", help="list the supported boards",
                       description="List the board definitions under boards/ (pins, polarity, wake, radio).")
    b.add_argument("--json", action="store_true", help="one JSON object per board")
    b.set_defaults(func=cmd_boards)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
