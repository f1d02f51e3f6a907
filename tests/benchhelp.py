"""Helpers for the provision and bench tests: the CLI run in this process,
a key store row, a one-line error, and a check that a secret never shows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from drawsense import cli as drawsense_cli
from drawsense.keystore import KeyStore

# The environment the CLI runs in as a subprocess: this tree's package first.
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1] / "tools"),
                                                                os.environ.get("PYTHONPATH")])))

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="drawsense board serve is Linux-only (its ^C relay reads /proc)")


def cli(*argv: str) -> int:
    """Run `drawsense provision|bench ...` in this process, as the command does."""
    return drawsense_cli.main(list(argv))


def row(keys: Path, name: str):
    s = KeyStore(keys, create=False)
    try:
        d = s.get(name)
        return None if d is None else (d.name, d.device_id, d.secret, d.last_counter)
    finally:
        s.close()


def key_file_of(keys: Path, name: str) -> bytes:
    """The key file provisioning writes for `name` (DSK2: secret, id, log key), from the store."""
    from drawsense import firmware

    s = KeyStore(keys, create=False)
    try:
        d = s.get(name)
        assert d is not None and d.log_key is not None and len(d.log_key) == 16
        return firmware.key_file(d.secret, d.device_id, d.log_key)
    finally:
        s.close()


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def assert_no_key(text: str, secret: bytes) -> None:
    assert secret.hex() not in text.lower()
    assert repr(secret) not in text
    assert repr(secret)[2:-1] not in text  # the bytes' repr without b'...'
