"""Shared fixtures. Two ways firmware runs in this suite:

* on the real MicroPython VM (the unix port from PyPI) on the virtual board,
  through drawsense.sim.vboard: scenario, IRQ and build tests;
* the pure modules (debounce, detect, burst, advert) under CPython for
  property tests with hypothesis, via tests/mpcompat.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from drawsense import firmware, paths
from drawsense.sim import scenario, vboard

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"

# pyproject's pythonpath puts tools/ first for this process; the CLI tests'
# subprocesses get the same, so every test runs the working tree.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tools"), os.environ.get("PYTHONPATH")]))
assert paths.FIRMWARE == FIRMWARE, f"tests must run the working tree's firmware, not {paths.FIRMWARE}"

_cache: dict = {}

# The firmware's timing defaults (firmware/config.py), so a test states a
# threshold by name instead of restating its value; a board may override one
# (board.py, e.g. the esp32c3's DRAW_CONFIRM_MS): boards.load(name)[NAME].
CONFIG = firmware.module("config")

# The suite's device identity (a test value, not a secret of any device).
TEST_SECRET = bytes(range(32))
TEST_ID = b"testdev1"
TEST_LOG_KEY = bytes(range(0x40, 0x50))  # its event-log key (firmware/evlog.py)


def simulate(name_or_scenario, board: str = "virtual", **kw) -> vboard.SimResult:
    """Run a scenario on the virtual board, provisioned with TEST_SECRET unless
    secret=None is given; built-in runs are cached per session (runs are
    deterministic, so a second run would only repeat the first)."""
    kw.setdefault("secret", TEST_SECRET)
    kw.setdefault("device_id", TEST_ID)
    if kw["secret"] is not None:
        kw.setdefault("log_key", TEST_LOG_KEY)
    if isinstance(name_or_scenario, str):
        key = (name_or_scenario, board, tuple(sorted(kw.items())))
        if key not in _cache:
            _cache[key] = vboard.run(scenario.load(name_or_scenario), board, **kw)
        return _cache[key]
    return vboard.run(name_or_scenario, board, **kw)


@pytest.fixture
def sim():
    return simulate


@pytest.fixture
def store(tmp_path):
    """A new, empty key store (SQLite) in the test's folder."""
    from drawsense.keystore import KeyStore

    s = KeyStore(tmp_path / "k.db")
    yield s
    s.close()


@pytest.fixture
def firmware_copy(tmp_path):
    """A scratch copy of firmware/ that a test may break on purpose."""
    dst = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, dst)
    return dst


def pytest_addoption(parser):
    parser.addoption(
        "--port", default=None, metavar="PORT",
        help="hardware in the loop: the serial port of a real board (deployed and provisioned, its key in "
             "$DRAWSENSE_KEYS or the default key store); tests/device/test_bench.py then runs the bench checks "
             "against it (docs/bench.md). Without it those tests are skipped.")
