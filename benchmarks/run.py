#!/usr/bin/env python3
"""drawsense benchmarks: figures, not tests (the suite has no timing asserts).

    python benchmarks/run.py          a table
    python benchmarks/run.py --json   one JSON object

Each figure is measured in this run next to its baseline, and quoted as a
ratio to it:
  draw_latency_ms   sensor settled "out" -> first advert on air, virtual ms,
                    default scenario; baseline: draw_confirm_ms, the floor
                    the debounce itself sets (+ up to 10 ms BLE advDelay).
  sim_speedup       virtual seconds per wall second over a simulated
                    holstered hour; baseline: real time (1x).
  peak_heap_bytes   MicroPython heap high-water mark of the firmware over the
                    default scenario (the virtual board's own share left
                    out), once running; baseline: the 128 KiB heap the run
                    is given. boot_heap_bytes: the same at the first sample,
                    which also holds what compiling the .py modules left.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

from drawsense import scenario, timeline, vboard  # noqa: E402
from drawsense.scenario import Scenario  # noqa: E402

DRAW_CONFIRM_MS = 30
HEAP_BYTES = 128 * 1024


def measure() -> dict:
    draw = vboard.run(scenario.load("draw"), "esp32c3", heap_probe=True)
    latency = timeline.draw_latencies(draw)[0]
    hour = Scenario(name="holstered-hour", description="", seed=1, duration_us=3_600_000_000,
                    initial_out=False, edges=[], battery=[(0, 3000)], source="benchmark")
    runs = [vboard.run(hour, "esp32c3") for _ in range(3)]
    wall = min(r.wall_s for r in runs)  # least disturbed of three
    speedup = 3600.0 / wall
    peak = draw.stats["peak_heap"]
    return {
        "draw_latency_ms": round(latency, 3),
        "draw_latency_vs_confirm": round(latency / DRAW_CONFIRM_MS, 3),
        "sim_speedup": round(speedup, 1),
        "sim_hour_wall_s": round(wall, 4),
        "peak_heap_bytes": peak,
        "peak_heap_vs_heap": round(peak / HEAP_BYTES, 4),
        "boot_heap_bytes": draw.stats["boot_heap"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    m = measure()
    if args.json:
        print(json.dumps(m))
        return 0
    rows = [
        ("draw_latency_ms", f"{m['draw_latency_ms']:.3f}", "draw_confirm_ms = 30",
         f"{m['draw_latency_vs_confirm']:.2f}x"),
        ("sim_speedup", f"{m['sim_speedup']:.0f}x", f"real time ({m['sim_hour_wall_s']:.3f} s wall/hour)",
         f"{m['sim_speedup']:.0f}x"),
        ("peak_heap_bytes", str(m["peak_heap_bytes"]), "128 KiB heap", f"{100 * m['peak_heap_vs_heap']:.1f} %"),
        ("boot_heap_bytes", str(m["boot_heap_bytes"]), "128 KiB heap",
         f"{100 * m['boot_heap_bytes'] / HEAP_BYTES:.1f} %"),
    ]
    print(f"{'figure':<18} {'value':>10}  {'baseline':<34} {'ratio':>8}")
    for r in rows:
        print(f"{r[0]:<18} {r[1]:>10}  {r[2]:<34} {r[3]:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
