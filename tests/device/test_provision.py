"""drawsense provision (device/provision.py), with the real mpremote against
the virtual board served on a pty: a device's identity written once and never
half-done, the key store and the device always agreeing, the secret never on
a command line or a screen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mpremote  # noqa: F401  (the test extra pins it: a missing mpremote is a failure, not a skip)

from benchhelp import assert_no_key, cli, key_file_of, needs_linux, one_line, row
from drawsense.device import provision
from drawsense.keystore import Clock, KeyStore


@needs_linux
def test_provision_twice_without_force_is_refused(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-4", "--keys", str(keys)) == 0
    capfd.readouterr()
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = row(keys, "vb-4")
    for name in ("vb-4", "other"):  # same name, or a new name: the device has an identity
        assert cli("provision", "--port", board.pty, "--name", name, "--keys", str(keys)) == 2
        line = one_line(capfd.readouterr().err)
        assert "already has an identity" in line and "--force" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert row(keys, "vb-4") == row_before
    assert row(keys, "other") is None


@needs_linux
def test_name_in_store_is_refused(board, keys, capfd):
    s = KeyStore(keys)
    s.add("taken")
    s.close()
    before = keys.read_bytes()
    assert cli("provision", "--port", board.pty, "--name", "taken", "--keys", str(keys)) == 2
    line = one_line(capfd.readouterr().err)
    assert "'taken' is already in" in line and "--force" in line
    assert not (board.root / "ds_key.bin").exists()
    assert keys.read_bytes() == before


@needs_linux
def test_force_rekeys(board, keys, capfd):
    assert cli("provision", "--port", board.pty, "--name", "vb-5", "--keys", str(keys)) == 0
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0
    _, dev_id, old_secret, last = row(keys, "vb-5")
    assert last >= 0
    s = KeyStore(keys)
    old_log_key = s.get("vb-5").log_key
    s.read_log("vb-5", (9, b"m" * 10), Clock(9, 5000, 1.8e9, 0.1, "virtual"))  # a log read under the old key
    s.close()
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-5", "--keys", str(keys), "--force") == 0
    out, err = capfd.readouterr()
    assert "re-keyed vb-5" in out
    # the old log's mark, reads and clock readings went with the old key (a
    # wiped device restarts its log at seq 0: it must not read as cut short)
    s = KeyStore(keys)
    assert s.get("vb-5").log_key != old_log_key
    assert s.log_mark("vb-5") is None and s.log_reads("vb-5") == []
    assert all(c.unix != 1.8e9 for c in s.clocks("vb-5"))
    s.close()
    _, dev_id2, new_secret, last2 = row(keys, "vb-5")
    assert dev_id2 == dev_id and new_secret != old_secret and last2 == -1
    assert (board.root / "ds_key.bin").read_bytes() == key_file_of(keys, "vb-5")
    assert key_file_of(keys, "vb-5").startswith(b"DSK2" + new_secret + dev_id)
    assert (board.root / "ds_ctr.bin").read_bytes() == bytes(4) + b"\xff" * 4
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert cli("bench", "--port", board.pty, "--keys", str(keys), "--trigger", "--listen",
               "--events", str(board.events)) == 0


@needs_linux
def test_store_write_fails_device_rolled_back(board, keys, capfd, monkeypatch):
    """Failure after the device changed: the device is put back as it was."""
    assert cli("provision", "--port", board.pty, "--name", "vb-6", "--keys", str(keys)) == 0
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = row(keys, "vb-6")

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(provision, "_store_write", broken)
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-6", "--keys", str(keys), "--force") == 2
    line = one_line(capfd.readouterr().err)
    assert "disk I/O error" in line and "put back as it was" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert row(keys, "vb-6") == row_before
    # a fresh device stays unprovisioned
    (board.root / "ds_key.bin").unlink()
    (board.root / "ds_ctr.bin").unlink()
    assert cli("provision", "--port", board.pty, "--name", "vb-7", "--keys", str(keys)) == 2
    capfd.readouterr()
    assert not (board.root / "ds_key.bin").exists() and not (board.root / "ds_ctr.bin").exists()
    assert row(keys, "vb-7") is None


@needs_linux
def test_device_write_fails_part_way_store_unchanged(board, keys, capfd, monkeypatch):
    """The copy to the device fails (board gone mid-way): store unchanged,
    the device's live files untouched, nothing staged left behind."""
    real = provision.remote.mpremote

    def flaky(port, *args, **kw):
        if "cp" in args:
            raise provision.RemoteError(f"{port}: the board did not answer within 60 s")
        return real(port, *args, **kw)

    monkeypatch.setattr(provision.remote, "mpremote", flaky)
    assert cli("provision", "--port", board.pty, "--name", "vb-8", "--keys", str(keys)) == 2
    line = one_line(capfd.readouterr().err)
    assert "did not answer" in line and "key store was not changed" in line
    assert not (board.root / "ds_key.bin").exists()
    assert not [p.name for p in board.root.iterdir() if p.suffix in (".new", ".old")]
    assert row(keys, "vb-8") is None


@needs_linux
def test_swap_fails_on_the_device_undone(board, keys, capfd):
    """A rename failing on the device half-way through the swap (here: a
    folder where the old counter is set aside) is undone on the device: the
    live key and counter are as before, the staged files gone, the store
    unchanged."""
    assert cli("provision", "--port", board.pty, "--name", "vb-11", "--keys", str(keys)) == 0
    key_before = (board.root / "ds_key.bin").read_bytes()
    ctr_before = (board.root / "ds_ctr.bin").read_bytes()
    row_before = row(keys, "vb-11")
    (board.root / "ds_ctr.bin.old").mkdir()
    (board.root / "ds_ctr.bin.old" / "x").write_bytes(b"")
    capfd.readouterr()
    assert cli("provision", "--port", board.pty, "--name", "vb-11", "--keys", str(keys), "--force") == 2
    line = one_line(capfd.readouterr().err)
    assert "key store was not changed" in line
    assert (board.root / "ds_key.bin").read_bytes() == key_before
    assert (board.root / "ds_ctr.bin").read_bytes() == ctr_before
    assert not (board.root / "ds_key.bin.old").exists()
    assert not [p.name for p in board.root.iterdir() if p.suffix == ".new"]
    assert row(keys, "vb-11") == row_before


def test_device_write_fails_bad_port_store_unchanged(tmp_path, keys, capfd):
    s = KeyStore(keys)
    s.add("existing")
    s.close()
    before = keys.read_bytes()
    assert cli("provision", "--port", str(tmp_path / "nope"), "--name", "new", "--keys", str(keys)) == 2
    line = one_line(capfd.readouterr().err)
    assert "no such port" in line and "nothing was changed" in line
    assert keys.read_bytes() == before
    # and no store is created by a failed provisioning
    other = tmp_path / "fresh.sqlite"
    assert cli("provision", "--port", str(tmp_path / "nope"), "--name", "new", "--keys", str(other)) == 2
    capfd.readouterr()
    assert not other.exists()


@needs_linux
def test_corrupt_store_device_unchanged(board, keys, capfd):
    keys.write_bytes(b"this is not a key store\n" * 10)
    before = keys.read_bytes()
    assert cli("provision", "--port", board.pty, "--name", "vb-9", "--keys", str(keys)) == 2
    line = one_line(capfd.readouterr().err)
    assert "not a drawsense key store" in line
    assert keys.read_bytes() == before
    assert not (board.root / "ds_key.bin").exists() and not (board.root / "ds_ctr.bin").exists()
    for extra in ((), ("--trigger", "--listen", "--events", str(board.events))):
        assert cli("bench", "--port", board.pty, "--keys", str(keys), *extra) == 2
        line = one_line(capfd.readouterr().err)
        assert "not a drawsense key store" in line
    assert keys.read_bytes() == before


def test_key_not_on_any_command_line(tmp_path, keys, monkeypatch):
    """Every mpremote argument provisioning uses, recorded: the secret is in none."""
    seen: list[tuple] = []
    files: dict[str, bytes] = {}

    class P:
        def __init__(self, out):
            self.stdout, self.stderr, self.returncode = out, "", 0

    def fake(port, *args, **kw):
        seen.append(args)
        if "cp" in args:
            for a in args:
                if "\n" not in a and Path(a).is_file():  # (the exec'd code is an argument too)
                    assert Path(a).stat().st_mode & 0o077 == 0, "the temp file must be private"
                    files[Path(a).name] = Path(a).read_bytes()
            import hashlib
            return P("DSHASH " + " ".join(hashlib.sha256(files[n]).hexdigest()
                                          for n in ("ds_key.new", "ds_ctr.new")))
        call = args[-1].rstrip("\n").rsplit("\n", 1)[-1]  # the device/mp function the code ends by calling
        answers = {"key_state": "DSSTATE none", "swap": "DSSWAP ok", "rollback": "DSROLLBACK ok"}
        return P(answers.get(call.split("(")[0], ""))

    monkeypatch.setattr(provision.remote, "mpremote", fake)
    r = provision.provision("/dev/fake", "cmdline", keys)
    secret = row(keys, "cmdline")[2]
    assert files["ds_key.new"] == key_file_of(keys, "cmdline")
    assert files["ds_key.new"].startswith(b"DSK2" + secret + bytes.fromhex(r["device_id"]))
    flat = " ".join(" ".join(a) for a in seen)
    assert_no_key(flat, secret)
    temp = [a for args in seen for a in args if "drawsense-provision-" in a]
    assert temp and not any(Path(a).exists() for a in temp), "the private temp files are deleted"
