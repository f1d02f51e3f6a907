"""The key store keeps its secrets private and can be copied safely while a
listener writes to it (issue 9, point 5). Run: pytest tests/test_keystore.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


from drawsense import protocol
from drawsense.keystore import KeyStore, KeyStoreError
from drawsense.receive.receiver import Receiver


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drawsense", *args], capture_output=True, text=True,
                          timeout=60)


def test_a_store_others_can_read_is_refused_with_the_fix(tmp_path):
    keys = tmp_path / "k.db"
    KeyStore(keys).add("alice")
    os.chmod(keys, 0o644)
    before = keys.read_bytes()
    r = cli("keys", "--keys", str(keys), "list")
    assert r.returncode == 2
    [line] = r.stderr.strip().splitlines()
    assert "mode 644" in line and f"chmod 600 {keys}" in line
    assert keys.read_bytes() == before  # nothing written to it
    os.chmod(keys, 0o600)
    assert cli("keys", "--keys", str(keys), "list").returncode == 0


def test_an_empty_file_made_with_touch_becomes_private_before_a_secret_goes_in(tmp_path):
    keys = tmp_path / "k.db"
    keys.touch(mode=0o666)
    os.chmod(keys, 0o666)
    assert cli("keys", "--keys", str(keys), "add", "alice").returncode == 0
    assert keys.stat().st_mode & 0o777 == 0o600


def test_export_copies_every_replay_floor_while_the_store_is_in_use(tmp_path):
    keys = tmp_path / "k.db"
    store = KeyStore(keys)
    dev = store.add("alice")
    rx = Receiver(store)
    # a listener accepts a draw: its replay floor is committed, in the WAL
    ev = rx.feed(protocol.mfr_of(protocol.seal(dev.secret, 5, "draw", 0)) or b"")
    assert ev is not None
    rx.flush()
    # the listener still has the store open; a plain copy of the file misses the floor
    plain = tmp_path / "plain.db"
    shutil.copyfile(keys, plain)
    os.chmod(plain, 0o600)
    try:
        stale = KeyStore(plain).get("alice")
        plain_floor = stale.last_counter if stale else None
    except KeyStoreError:
        plain_floor = None
    r = cli("keys", "--keys", str(keys), "export", str(tmp_path / "copy.db"))
    assert r.returncode == 0, r.stderr
    copy = tmp_path / "copy.db"
    assert copy.stat().st_mode & 0o777 == 0o600
    assert KeyStore(copy).get("alice").last_counter == 5
    assert plain_floor != 5  # what the docs warn about
    # and the copy refuses the replay
    again = Receiver(KeyStore(copy)).feed(protocol.mfr_of(protocol.seal(dev.secret, 5, "draw", 0)) or b"")
    assert again is None
    store.close()


def test_export_never_overwrites(tmp_path):
    keys = tmp_path / "k.db"
    KeyStore(keys).add("alice")
    (tmp_path / "there.db").write_text("mine")
    r = cli("keys", "--keys", str(keys), "export", str(tmp_path / "there.db"))
    assert r.returncode == 2 and "already exists" in r.stderr
    assert (tmp_path / "there.db").read_text() == "mine"


def test_the_served_boards_trace_shows_no_file_contents():
    # a provisioned key crosses the served board's line: the trace says how
    # much went by and which REPL control bytes, never what
    from drawsense.sim import serve

    shown = serve._traced(b"\x01f=open('ds_key.bin','wb');f.write(b'\\x8f\\x12 secret')\x04")
    assert "secret" not in shown and "ds_key" not in shown and "\\x01" in shown and "\\x04" in shown
