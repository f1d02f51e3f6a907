"""Board definitions: boards/<NAME>/board.py, read as literals (no code runs)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from drawsense import paths

REQUIRED = {
    "NAME": str, "TITLE": str, "PORT": str, "CHIP": str,
    "SENSOR_PIN": (int, tuple), "SENSOR_PULL": str, "HOLSTERED_LEVEL": int, "WAKE": str,
    "ADV_MIN_INTERVAL_US": int, "BLE_ACTIVATE_MS": int, "MPY_ARCH": str, "STUBS": str,
    "BOOT_MS": int, "BATTERY_ADC_PIN": (int, tuple), "BATTERY_DIVIDER_NUM": int, "BATTERY_DIVIDER_DEN": int,
    "BATTERY_LOW_MV": int, "BATTERY_CLEAR_MV": int, "BROWNOUT_MV": int,
    "SENSOR_FRONTEND": str, "SENSOR_PART": str, "SENSOR_SAMPLE_MS": int, "SENSOR_POLL_MS": int,
    "PULL_KOHM": int, "IO_MV": int, "RTC_DRIFT_PPM": int, "WDT_MS": int,
}


class BoardError(ValueError):
    pass


@dataclass(frozen=True)
class Board:
    name: str
    dir: Path
    values: dict

    def __getitem__(self, key: str):
        return self.values[key]

    @property
    def title(self) -> str:
        return self.values["TITLE"]


def names() -> list[str]:
    return sorted(p.name for p in paths.BOARDS.iterdir() if (p / "board.py").is_file())


def load(name: str) -> Board:
    d = paths.BOARDS / name
    f = d / "board.py"
    if not f.is_file():
        raise BoardError(f"unknown board {name!r}: choose one of {', '.join(names())} (drawsense boards)")
    values: dict = {}
    tree = ast.parse(f.read_text(), str(f))
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                raise BoardError(f"{f}:{node.lineno}: {node.targets[0].id} must be a literal") from None
    for key, typ in REQUIRED.items():
        if not isinstance(values.get(key), typ):
            # a pin or ADC id: an int, or a (device, n) tuple on the zephyr port
            what = " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__
            raise BoardError(f"{f}: {key} missing or not {what}")
    if values["SENSOR_PULL"] not in ("up", "down", "none"):
        raise BoardError(f"{f}: SENSOR_PULL must be 'up', 'down' or 'none'")
    if values["WAKE"] not in ("gpio", "irq", "idle"):
        raise BoardError(f"{f}: WAKE must be 'gpio' (esp32 deep sleep, esp32.wake_on_gpio), 'irq' (light sleep) "
                         "or 'idle' (zephyr: time.sleep_ms, woken by the pin IRQ)")
    if values["SENSOR_FRONTEND"] not in ("reed", "hall"):
        raise BoardError(f"{f}: SENSOR_FRONTEND must be 'reed' or 'hall'")
    if values["SENSOR_FRONTEND"] == "hall" and values["SENSOR_SAMPLE_MS"] <= 0:
        raise BoardError(f"{f}: a 'hall' front-end needs its SENSOR_SAMPLE_MS")
    if values["HOLSTERED_LEVEL"] not in (0, 1):
        raise BoardError(f"{f}: HOLSTERED_LEVEL must be 0 or 1")
    return Board(name, d, values)
