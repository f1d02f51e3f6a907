"""`drawsense provision`: give a device its identity and register it.

The host makes the device's secret (secrets.token_bytes(32)) and 8-byte id,
writes ds_key.bin (b"DSK1" | secret | id, firmware/keyfile.py) and ds_ctr.bin
(counter mark 0, firmware/counter.py) to the device with mpremote, checks
them by SHA-256, and adds the device to the key store.

The secret is never printed and never on a command line: it goes to the
device by `mpremote cp` from a private temporary file (a 0700 folder, the
file 0600, deleted afterwards), never through `exec` with the bytes inline.
The only things read back from the device are the key file's magic, its
device id and hashes.

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
   secret and reset the replay floor (--force on an existing name: one
   UPDATE, as KeyStore.rekey does, but with the secret already on the
   device). The store's commit is the point of no return.
7. If step 6 fails, the device is rolled back: the new files removed, the
   *.old ones renamed back (counter first, key last), so device and store
   are as before. The old counter goes back with the old key: the device
   sent nothing in between (mpremote holds it at the REPL).
8. Remove the *.old files (a failure here is only a warning: they are
   inert, the firmware never reads them).

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
import struct
import tempfile
from pathlib import Path

from drawsense.device import remote
from drawsense.keystore import _NAME, KeyStore, KeyStoreError, default_path
from drawsense.device.remote import RemoteError

KEY_FILE = "ds_key.bin"
CTR_FILE = "ds_ctr.bin"
MAGIC = b"DSK1"

# Printed by the device: magic ok or not, and the id (never the secret).
_STATE_CODE = """\
import os
def _ds_state():
    try:
        f = open('ds_key.bin', 'rb')
    except OSError:
        print('DSSTATE none')
        return
    d = f.read()
    f.close()
    ok = len(d) == 44 and d[:4] == b'DSK1'
    print('DSSTATE', 'ok' if ok else 'damaged', ''.join('%02x' % b for b in d[36:44]) if ok else '-')
_ds_state()
"""

_HASH_CODE = """\
import hashlib
def _ds_hash(p):
    f = open(p, 'rb')
    d = f.read()
    f.close()
    return ''.join('%02x' % b for b in hashlib.sha256(d).digest())
print('DSHASH', _ds_hash('ds_key.new'), _ds_hash('ds_ctr.new'))
"""

_HELPERS = """\
import os
def _ds_ex(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False
def _ds_rm(p):
    if _ds_ex(p):
        os.remove(p)
"""

# Old live files aside (key first: a counter alone is harmless), new ones in
# (counter first: a key alone makes the firmware refuse to send). A failure
# part-way undoes what was done (the staged files are then removed by the host).
_SWAP_CODE = _HELPERS + """\
_done = []
try:
    for _p in ('ds_key.bin', 'ds_ctr.bin'):
        _ds_rm(_p + '.old')
        if _ds_ex(_p):
            os.rename(_p, _p + '.old')
            _done.append(_p)
    os.rename('ds_ctr.new', 'ds_ctr.bin')
    _done.append('new')
    os.rename('ds_key.new', 'ds_key.bin')
except Exception:
    if 'new' in _done:
        os.rename('ds_ctr.bin', 'ds_ctr.new')
    for _p in ('ds_ctr.bin', 'ds_key.bin'):
        if _p in _done:
            os.rename(_p + '.old', _p)
    raise
print('DSSWAP ok')
"""

# Undo the swap: new files out (key first), old ones back (counter first).
_ROLLBACK_CODE = _HELPERS + """\
_ds_rm('ds_key.bin')
_ds_rm('ds_ctr.bin')
for _p in ('ds_ctr.bin', 'ds_key.bin'):
    if _ds_ex(_p + '.old'):
        os.rename(_p + '.old', _p)
print('DSROLLBACK ok')
"""

_DROP_STAGED_CODE = _HELPERS + """\
_ds_rm('ds_key.new')
_ds_rm('ds_ctr.new')
"""

_DROP_OLD_CODE = _HELPERS + """\
_ds_rm('ds_key.bin.old')
_ds_rm('ds_ctr.bin.old')
"""


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
    words = _marked(remote.exec_(port, _STATE_CODE, timeout=30), "DSSTATE")
    state = words[0] if words else "damaged"
    return state, (words[1] if state == "ok" and len(words) > 1 else None)


def _write_device(port: str, key_file: bytes, ctr_file: bytes) -> None:
    """Stage, verify by hash, swap in. Raises RemoteError, the device's live
    files then as they were (a failed swap is undone on the device) and the
    staged ones removed (best effort: the port may be gone)."""
    tmp = tempfile.mkdtemp(prefix="drawsense-provision-")  # 0700
    try:
        paths = []
        for name, data in (("ds_key.new", key_file), ("ds_ctr.new", ctr_file)):
            p = os.path.join(tmp, name)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            paths.append(p)
        try:
            out = remote.mpremote(port, "cp", paths[0], ":ds_key.new", "+", "cp", paths[1], ":ds_ctr.new",
                                  "+", "exec", _HASH_CODE, timeout=60).stdout
            got = _marked(out, "DSHASH")
            want = [hashlib.sha256(key_file).hexdigest(), hashlib.sha256(ctr_file).hexdigest()]
            if got != want:
                raise RemoteError(f"{port}: the files on the device do not match what was sent (hash mismatch)")
            _marked(remote.exec_(port, _SWAP_CODE, timeout=30), "DSSWAP")
        except RemoteError:
            try:
                remote.exec_(port, _DROP_STAGED_CODE, timeout=30)
            except RemoteError:
                pass
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rollback_device(port: str) -> str | None:
    """Undo the swap; returns an error text if that failed too."""
    try:
        _marked(remote.exec_(port, _ROLLBACK_CODE, timeout=30), "DSROLLBACK")
    except RemoteError as e:
        return str(e)
    return None


def _store_write(store: KeyStore, name: str, secret: bytes, device_id: bytes, replace: bool) -> None:
    """One transaction: a new row, or (replace) a new secret with the replay
    floor reset, as KeyStore.rekey does."""
    if not replace:
        store.add(name, secret, device_id)
        return
    n = store.db.execute("UPDATE devices SET secret = ?, last_counter = -1 WHERE name = ?",
                         (secret, name)).rowcount  # autocommit: one statement, one transaction
    if n != 1:
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
        # 5. device (staged, verified, swapped)
        log(f"writing the key to {port}")
        try:
            _write_device(port, MAGIC + secret + device_id, struct.pack("<II", 0, 0xFFFFFFFF))
        except RemoteError as e:
            raise ProvisionError(f"{e}; the key store was not changed") from None
        # 6. store; 7. roll the device back if it fails
        try:
            _store_write(store, name, secret, device_id, replace=existing is not None)
        except (KeyStoreError, sqlite3.Error, OSError) as e:
            err = _rollback_device(port)
            why = str(e) if isinstance(e, KeyStoreError) else f"{path}: {e}"
            if err:
                raise ProvisionError(f"{why}; and undoing the device failed ({err}): run drawsense "
                                     f"provision --force again") from None
            raise ProvisionError(f"{why}; the device was put back as it was") from None
        # 8. tidy
        try:
            remote.exec_(port, _DROP_OLD_CODE, timeout=30)
        except RemoteError as e:
            warnings.append(f"could not remove the old key file from the device ({e}); it is unused")
        return {"name": name, "device_id": device_id.hex(), "rekeyed": state != "none" or existing is not None,
                "keys": str(path), "port": port, "warnings": warnings}
    except KeyStoreError as e:
        raise ProvisionError(str(e)) from None
    except sqlite3.Error as e:
        raise ProvisionError(f"{path}: {e}; nothing was changed") from None
    finally:
        if store is not None:
            store.close()
