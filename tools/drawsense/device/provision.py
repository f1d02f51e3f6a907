"""`drawsense provision`: give a device its identity and register it.

The host makes the device's secret (secrets.token_bytes(32)), its event-log
key (secrets.token_bytes(16), its own key: docs/protocol.md "Event log") and
8-byte id, writes ds_key.bin (b"DSK2" | secret | id | log key, made by
firmware/keyfile.py's pack)
and ds_ctr.bin (counter mark 0, made by firmware/counter.py's FileStore) to
the device with mpremote, checks them by SHA-256, and adds the device to the
key store. The code run on the device is in device/mp/ (keystate, filehash,
keyswap); the state check reads the key file with firmware/keyfile.py's own
load(), sent ahead of it.

The secret is never printed and never on a command line: it goes to the
device by `mpremote cp` from a private temporary file (a 0700 folder, the
file 0600, deleted afterwards), never through `exec` with the bytes inline.
The only things read back from the device are whether its key file is
whole (keyfile.load), its device id and hashes.

Consistency (device and key store agree after any failure)
----------------------------------------------------------
The steps are ordered so that the likely failures (a wrong port, a busy
board, a damaged or locked key store) happen before anything is changed,
and the one step that can fail after the device changed is undone:

1. Open the key store if it exists (damaged -> stop: nothing changed).
2. Read the device's state: is there an identity (bad port -> stop:
   nothing changed, not even a new store file).
3. Refuse without --force if the device has an identity or the name is
   in the store (nothing changed).
4. Create the store if needed (an empty store agrees with every device).
5. Device, staged: cp the new files to ds_key.new / ds_ctr.new, hash them
   on the device, compare on the host (failure -> the staged files are
   removed; the device's live files were never touched). Then one exec
   swaps them in: the old key and counter (if any) are renamed to *.old,
   the new counter goes in before the new key, so at no instant is a key
   paired with a counter that is not its own (a key alone makes the
   firmware refuse to send, which is safe). A rename failing part-way is
   undone on the device before the error comes back.
6. Key store, one transaction: add the row (new name), or replace the
   secret and log key, reset the replay floor and drop what the store knew
   of the old log (its mark, reads and clock readings: the log starts over
   under the new key) (--force on an existing name: KeyStore.replace_keys,
   as KeyStore.rekey does, but with the secret already on the device). The
   store's commit is the point of no return.
7. If step 6 fails, the device is rolled back: the new files removed, the
   *.old ones renamed back (counter first, key last), so device and store
   are as before. The old counter goes back with the old key: the device
   sent nothing in between (mpremote holds it at the REPL).
8. Remove the *.old files (a failure here is only a warning: they are
   inert, the firmware never reads them).
9. Read the device's clock against this computer's into the store (for
   the event log's wall-clock times; a failure is only a warning).

What is left: if the host dies (power, kill -9) between 5 and 6 the device
holds a key the store does not have; `drawsense provision --force` again
re-keys it (the adverts it sends meanwhile are unknown to receivers, never
accepted under a wrong key).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path

from drawsense import firmware
from drawsense.device import mpcode, remote
from drawsense.keystore import _NAME, Clock, KeyStore, KeyStoreError, default_path
from drawsense.device.remote import RemoteError

# The live files are the firmware's (keyfile.PATH, counter.PATH); the new
# ones are staged beside them as ds_key.new / ds_ctr.new.
KEY_FILE = firmware.KEY_FILE
CTR_FILE = firmware.CTR_FILE
KEY_NEW = KEY_FILE.rsplit(".", 1)[0] + ".new"
CTR_NEW = CTR_FILE.rsplit(".", 1)[0] + ".new"


def _swap_step(call: str, *args: str) -> str:
    """A step of device/mp/keyswap.py: swap, rollback, drop or drop_old."""
    return mpcode.program("keyswap", call, *args)


class ProvisionError(Exception):
    """One line for the user; exit status 2."""


def _marked(out: str, mark: str) -> list[str]:
    for line in out.splitlines():
        words = line.split()
        if words and words[0] == mark:
            return words[1:]
    raise RemoteError(f"unexpected answer from the board (no {mark} line): {out.strip()[-200:]!r}")


def device_state(port: str) -> tuple[str, str | None]:
    """("none" | "ok" | "damaged", device id hex or None)."""
    code = mpcode.program("keystate", "key_state", KEY_FILE, before=("keyfile",))
    words = _marked(remote.exec_(port, code, timeout=30), "DSSTATE")
    state = words[0] if words else "damaged"
    return state, (words[1] if state == "ok" and len(words) > 1 else None)


def _write_device(port: str, key_file: bytes, ctr_file: bytes) -> None:
    """Stage, verify by hash, swap in. Raises RemoteError, the device's live
    files then as they were (a failed swap is undone on the device) and the
    staged ones removed (best effort: the port may be gone)."""
    tmp = tempfile.mkdtemp(prefix="drawsense-provision-")  # 0700
    try:
        paths = []
        for name, data in ((KEY_NEW, key_file), (CTR_NEW, ctr_file)):
            p = os.path.join(tmp, name)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            paths.append(p)
        try:
            out = remote.mpremote(port, "cp", paths[0], ":" + KEY_NEW, "+", "cp", paths[1], ":" + CTR_NEW,
                                  "+", "exec", mpcode.program("filehash", "line", KEY_NEW, CTR_NEW),
                                  timeout=60).stdout
            got = _marked(out, "DSHASH")
            want = [hashlib.sha256(key_file).hexdigest(), hashlib.sha256(ctr_file).hexdigest()]
            if got != want:
                raise RemoteError(f"{port}: the files on the device do not match what was sent (hash mismatch)")
            _marked(remote.exec_(port, _swap_step("swap", KEY_FILE, CTR_FILE, KEY_NEW, CTR_NEW), timeout=30),
                    "DSSWAP")
        except RemoteError:
            try:
                remote.exec_(port, _swap_step("drop", KEY_NEW, CTR_NEW), timeout=30)
            except RemoteError:
                pass
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rollback_device(port: str) -> str | None:
    """Undo the swap; returns an error text if that failed too."""
    try:
        _marked(remote.exec_(port, _swap_step("rollback", KEY_FILE, CTR_FILE), timeout=30), "DSROLLBACK")
    except RemoteError as e:
        return str(e)
    return None


def _store_write(store: KeyStore, name: str, secret: bytes, device_id: bytes, log_key: bytes,
                 replace: bool) -> None:
    """One transaction: a new row, or (replace) a new secret and log key with
    the replay floor reset and the old log's mark, reads and clock readings
    dropped (KeyStore.replace_keys, as KeyStore.rekey does)."""
    if not replace:
        store.add(name, secret, device_id, log_key)
        return
    if not store.replace_keys(name, secret, log_key):
        raise KeyStoreError(f"no device {name!r} in {store.path} any more (removed meanwhile?)")


def provision(port: str, name: str, keys: Path | None = None, *, force: bool = False,
              log=None) -> dict:
    """Provision the device on `port` as `name`. Returns {"name", "device_id",
    "rekeyed", "keys", "warnings"}. Raises ProvisionError (one line)."""
    log = log or (lambda msg: None)
    path = Path(keys) if keys else default_path()
    if not _NAME.match(name or ""):
        raise ProvisionError(f"device name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
                             f"starting with a letter or digit")
    store: KeyStore | None = None
    try:
        # 1. the store, if there is one (a damaged one stops us here)
        if path.exists():
            store = KeyStore(path, create=False)
        # 2. the device
        try:
            state, old_id = device_state(port)
        except RemoteError as e:
            raise ProvisionError(f"{e}; nothing was changed") from None
        existing = store.get(name) if store else None
        # 3. refusals
        if state != "none" and not force:
            what = f"an identity (device id {old_id})" if state == "ok" else "a damaged key file"
            raise ProvisionError(f"{port} already has {what}: use --force to re-key it (nothing was changed)")
        if existing is not None and not force:
            raise ProvisionError(f"device {name!r} is already in {path}: use --force to re-key it, or pick "
                                 f"another name (nothing was changed)")
        warnings = []
        if store is not None and old_id is not None:
            for d in store.devices():
                if d.id_hex == old_id and d.name != name:
                    warnings.append(f"the device was {d.name!r} in {path}; that row no longer matches any device "
                                    f"(drawsense keys remove {d.name})")
        # 4. the store exists from here on
        if store is None:
            store = KeyStore(path)
            existing = store.get(name)
        device_id = existing.device_id if existing is not None else secrets.token_bytes(8)
        secret = secrets.token_bytes(32)
        log_key = secrets.token_bytes(16)
        # 5. device (staged, verified, swapped)
        log(f"writing the key to {port}")
        try:
            _write_device(port, firmware.key_file(secret, device_id, log_key), firmware.counter_file(0))
        except RemoteError as e:
            raise ProvisionError(f"{e}; the key store was not changed") from None
        # 6. store; 7. roll the device back if it fails
        try:
            _store_write(store, name, secret, device_id, log_key, replace=existing is not None)
        except (KeyStoreError, sqlite3.Error, OSError) as e:
            err = _rollback_device(port)
            why = str(e) if isinstance(e, KeyStoreError) else f"{path}: {e}"
            if err:
                raise ProvisionError(f"{why}; and undoing the device failed ({err}): run drawsense "
                                     f"provision --force again") from None
            raise ProvisionError(f"{why}; the device was put back as it was") from None
        # 8. tidy
        try:
            remote.exec_(port, _swap_step("drop_old", KEY_FILE, CTR_FILE), timeout=30)
        except RemoteError as e:
            warnings.append(f"could not remove the old key file from the device ({e}); it is unused")
        # 9. the device's clock against ours, for the event log's wall-clock times
        # (drawsense log); without it the log shows device time until a log read
        try:
            from drawsense.device import logread

            rtc, unix, err, board = logread.read_clock(port)
            store.read_log(name, None, Clock(logread.last_seq(port), rtc, unix, err, board))
        except (RemoteError, KeyStoreError) as e:
            warnings.append(f"could not read the device's clock ({e}); drawsense log reads it again")
        return {"name": name, "device_id": device_id.hex(), "rekeyed": state != "none" or existing is not None,
                "keys": str(path), "port": port, "warnings": warnings}
    except KeyStoreError as e:
        raise ProvisionError(str(e)) from None
    except sqlite3.Error as e:
        raise ProvisionError(f"{path}: {e}; nothing was changed") from None
    finally:
        if store is not None:
            store.close()
