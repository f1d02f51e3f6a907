"""drawsense power: battery life from the firmware's simulated timeline
(model.power over sim.vboard, the cell from model.cell)."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys

from drawsense import boards, outfile
from drawsense.cli.argtypes import number
from drawsense.cli.common import simulation_failed
from drawsense.console import end_progress, fail, progress
from drawsense.model import cell, power
from drawsense.sim import vboard

HELP = "battery life from the firmware's simulated timeline"
DESCRIPTION = ("Run the firmware on the virtual board over simulated days, price its awake / radio / "
               "sleep time with the board's power profile (every figure sourced, boards/NAME/power.toml), "
               "and model the coin cell: life ends where the cell's voltage under the device's load "
               "falls below what its supply needs.")
MAX_DRAWN_H = 8  # gun-out hours one `drawsense power` run may simulate (~25 s of wall time)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", default="esp32c3", help="board (default esp32c3)")
    p.add_argument("--cell", default="CR2032", type=str.upper, choices=sorted(cell.CELLS),
                   help="coin cell (default CR2032)")
    p.add_argument("--draws-per-day", type=number(0, 1000), default=10.0, metavar="N",
                   help="draws a day (default 10)")
    p.add_argument("--drawn-s", type=number(0.1, 3600), default=60.0, metavar="S",
                   help="how long each draw stays out, seconds (default 60: reminders run meanwhile)")
    p.add_argument("--days", type=number(0, 60, above=True), default=2.0, metavar="D",
                   help="days to simulate (default 2)")
    p.add_argument("--years", type=number(0, 100, above=True), metavar="Y",
                   help="a goal: say whether the life reaches Y years")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="plot the cell's resting and loaded voltage over its life "
                                                     "(needs matplotlib: pip install 'drawsense[plot]')")
    p.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")


_last_bar: list = [None]


def _bar(label: str, t: float, total: float) -> None:
    width = 30
    done = int(width * min(t / total, 1.0)) if total else width
    key = (label, round(t / 8_640_000))  # redraw every 0.1 day at most
    if key == _last_bar[0] and t < total:
        return
    _last_bar[0] = key
    progress(f"simulating ({label}): [{'#' * done}{'.' * (width - done)}] {t / 86_400_000:5.2f} of "
             f"{total / 86_400_000:g} days")
    if t >= total:
        end_progress()


def run(args: argparse.Namespace) -> int:
    if args.draws_per_day * args.drawn_s > 86400:
        return fail(f"--draws-per-day {args.draws_per_day:g} x --drawn-s {args.drawn_s:g} is more than a day "
                    f"out of the holster")
    try:
        draws = power.draws_to_simulate(args.days, args.draws_per_day, args.drawn_s)
    except ValueError as e:
        return fail(str(e))
    drawn_h = draws * args.drawn_s / 3600
    if drawn_h > MAX_DRAWN_H:
        # awake time is what the simulator spends its wall time on (~2-3 s a drawn hour)
        return fail(f"this run would simulate {drawn_h:.1f} h with the gun out (--days x --draws-per-day x "
                    f"--drawn-s); at most {MAX_DRAWN_H:g} h: the model scales a few days to the cell's life, so "
                    f"give fewer --days")
    if args.plot:  # before simulating
        if outfile.problem(args.plot):
            return fail(f"--plot {args.plot}: cannot write it: {outfile.problem(args.plot)}")
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            return fail("--plot needs matplotlib: pip install 'drawsense[plot]'")
    try:
        res = power.model(args.board, args.cell, args.draws_per_day, days=args.days, drawn_s=args.drawn_s,
                          progress=None if args.json or not sys.stderr.isatty() and not args.progress else _bar)
    except (power.ProfileError, boards.BoardError) as e:
        return fail(str(e))
    except (vboard.FirmwareCrash, subprocess.TimeoutExpired) as e:
        return simulation_failed(e, "fewer --days?")
    if args.plot:
        try:
            with outfile.atomic(args.plot) as part:
                power.plot(res, part)
        except (OSError, ValueError) as e:  # not writable; a suffix matplotlib has no writer for
            return fail(f"--plot {args.plot}: cannot write it ({e})")
    horizon = args.years
    out = {k: v for k, v in res.items() if not k.startswith("_")}
    if horizon is not None:
        out["lasts_horizon"] = res["life_years"] >= horizon
    if args.json:
        print(json.dumps(out))
        return 0
    _print(res, horizon, args.plot)
    return 0


def _print(res: dict, horizon: float | None, plot: str | None) -> None:
    print(f"{res['board']} on a {res['cell']}, {res['draws_per_day']:g} draws a day (each {res['drawn_s']:g} s "
          f"out), heartbeat {res['heartbeats_per_day']:g}/day")
    drawn = (f"{res['days_simulated']:g} day(s) with {res['draws_simulated']} draw(s), "
             if res["draws_simulated"] else "")
    print(f"  simulated            {drawn}{res['days_simulated_without_draws']:g} day(s) without draws "
          f"(priced at the rates above)")
    print(f"  average current      {res['avg_current_ua']:10.2f} uA   (asleep {res['asleep_pct']:.3f} % "
          f"of the time)")
    print(f"  charge per day       {res['charge_per_day_mc']:10.3f} mC  ({res['charge_per_day_mc'] / 3600:.4f} mAh)")
    if res["charge_per_draw_mc"] is not None:
        print(f"  charge per draw      {res['charge_per_draw_mc']:10.3f} mC")
    if res["charge_per_heartbeat_mc"] is not None:
        print(f"  charge per heartbeat {res['charge_per_heartbeat_mc']:10.3f} mC")
    print("  where it goes:")
    for k, v in sorted(res["breakdown_pct"].items(), key=lambda kv: -kv[1]):
        print(f"    {k:<32} {v:5.1f} %")
    lg = res["event_log"]
    if lg["charge_per_event_mc"] is not None:
        print(f"  event log            {lg['charge_per_event_mc']:10.3f} mC a record (its flash writes; the counter's few included), "
              f"{lg['events_per_day']:g} records a day: {lg['share_pct']:.2f} % of the charge")
    held = f"{lg['ring_years']:g} years at this rate" if lg["ring_years"] else "years (nothing logged in the run)"
    print(f"  event log ring       {lg['ring_events']:10d} records (board.py LOG_SEGMENTS): {held}")
    print(f"  life                 {res['life_years']:10.2f} years, ended by {res['end_reason']} "
          f"(cell under {res['peak_cell_ma']} mA below {res['min_cell_v']} V)"
          if res["end_reason"] == "brownout" else
          f"  life                 {res['life_years']:10.2f} years, ended by capacity")
    if horizon is not None:
        print(f"  goal {horizon:g} years: {'met' if res['life_years'] >= horizon else 'NOT met'}")
    if plot:
        print(f"  plot: {plot}")
    print(f"  (figures and their sources: boards/{res['board']}/power.toml)")
