"""drawsense boards: the board definitions under boards/ (drawsense.boards)."""

from __future__ import annotations

import argparse
import json

from drawsense import boards, paths
from drawsense.sim import ports

HELP = "list the supported boards"
DESCRIPTION = "List the board definitions under boards/ (pins, polarity, wake, radio)."
FORMATTER = argparse.HelpFormatter


def add_arguments(b: argparse.ArgumentParser) -> None:
    b.add_argument("--json", action="store_true", help="one JSON object per board")


def run(args: argparse.Namespace) -> int:
    rows = []
    for name in boards.names():
        b = boards.load(name)
        rows.append({
            "name": name, "title": b.title, "port": b["PORT"], "sensor_pin": b["SENSOR_PIN"],
            "pull": b["SENSOR_PULL"], "holstered_level": b["HOLSTERED_LEVEL"], "wake": b["WAKE"],
            "adv_min_interval_ms": b["ADV_MIN_INTERVAL_US"] / 1000, "mpy_arch": b["MPY_ARCH"],
            "sensor": b["SENSOR_PART"], "sensor_sample_ms": b["SENSOR_SAMPLE_MS"],
        })
        if b["PORT"] == "zephyr":
            # the zephyr port's advertiser (zephyr.toml behaviour.ble_identity_address)
            rows[-1]["address"] = ("rotating: patched port (fresh non-resolvable private address per advertiser start)"
                                   if b.values.get("ZEPHYR_ADV_PATCH") else "fixed: stock port")
            rows[-1]["stock_port_address"] = "fixed"
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    pins = [f"{p[0]}.{p[1]}" if isinstance(p, (list, tuple)) else str(p)  # zephyr: (device, n)
            for p in (r["sensor_pin"] for r in rows)]
    w = max(3, *(len(p) for p in pins))
    print(f"{'board':<9} {'port':<8} {'pin':>{w}} {'pull':<5} {'holstered':>9} {'wake':<5} {'adv min':>8}  description")
    for r, pin in zip(rows, pins):
        print(f"{r['name']:<9} {r['port']:<8} {pin:>{w}} {r['pull']:<5} {r['holstered_level']:>9} "
              f"{r['wake']:<5} {r['adv_min_interval_ms']:>6g}ms  {r['title']}")
    print()
    for r in rows:
        sample = f", samples every {r['sensor_sample_ms']} ms" if r["sensor_sample_ms"] else ""
        print(f"{r['name']:<9} sensor: {r['sensor']}{sample}")
        if "address" in r:
            print(f"{r['name']:<9} address: {r['address']}. A STOCK zephyr-port build sends a fixed address (the "
                  "chip's identity address on every advert: trackable); the product needs the advertiser patch "
                  f"{paths.BOARDS}/{r['name']}/patches/ (docs/nrf52840.md 7)")
    print(f"\n(board definitions: {paths.BOARDS}/<name>/board.py; what each port accepts: "
          f"{ports.DIR}/<port>.toml)")
    return 0
