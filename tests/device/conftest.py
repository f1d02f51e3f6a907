"""Fixtures for the bench-side tests: the virtual board served on a pty
(sim/serve.py) with the firmware copied into its root folder (firmware/*.py
but main.py, so the board sits at its REPL, and boards/virtual/board.py),
or without it; and a key store path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from served import ServedBoard

REPO = Path(__file__).resolve().parents[2]


class Served(ServedBoard):
    """A served board whose "@vb" lines (its air) go to an events file."""

    def __init__(self, root: Path, events: Path):
        super().__init__(root, events=events)
        self.events = events


def _install_firmware(root: Path) -> None:
    for f in (REPO / "firmware").glob("*.py"):
        if f.name != "main.py":
            shutil.copy(f, root / f.name)
    shutil.copy(REPO / "boards" / "virtual" / "board.py", root / "board.py")


def _serve(tmp_path: Path, firmware: bool):
    root = tmp_path / "root"
    root.mkdir()
    if firmware:
        _install_firmware(root)
    b = Served(root, tmp_path / "ev.log")
    yield b
    b.close()
    assert not b.error, b.error


@pytest.fixture
def board(tmp_path):
    yield from _serve(tmp_path, firmware=True)


@pytest.fixture
def empty_board(tmp_path):
    yield from _serve(tmp_path, firmware=False)


@pytest.fixture
def keys(tmp_path):
    return tmp_path / "keys.sqlite"
