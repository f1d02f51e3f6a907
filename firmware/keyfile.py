# The device's identity, written by provisioning (drawsense provision / sim):
#   "DSK2" | secret (32 bytes: K_enc | K_hint) | device id (8 bytes) | log key (16 bytes)
# or, as devices provisioned before the event log have it,
#   "DSK1" | secret | device id            (no log key: the device keeps no log)
# The log key (AES-128, evlog.py) is its own key, not derived from the
# advert secret: a camera holding the advert keys cannot forge a log.
# The keys never leave this file except into the signer and the log; nothing
# prints them. This file is the format's one definition: the host packs the
# file with pack() (run under CPython) and checks a device's file with load()
# (its source sent to the device ahead of drawsense/device/mp/keystate.py).
from micropython import const

PATH = "ds_key.bin"
_MAGIC = b"DSK1"
_MAGIC_LOG = b"DSK2"
_LEN = const(44)
_LEN_LOG = const(60)


def load(path=PATH):
    """(secret, device_id, log_key) or None if the device was never
    provisioned; log_key is None in a DSK1 file. Raises ValueError if the
    file is there but damaged."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) == _LEN and data[:4] == _MAGIC:
        return data[4:36], data[36:44], None
    if len(data) == _LEN_LOG and data[:4] == _MAGIC_LOG:
        return data[4:36], data[36:44], data[44:60]
    raise ValueError("key file damaged")


def pack(secret, device_id, log_key=None):
    """The file's bytes for a 32-byte secret, an 8-byte device id and a
    16-byte log key (None: the old DSK1 file, no log). The host's side of
    load(). Raises ValueError on other lengths."""
    if len(secret) != 32 or len(device_id) != 8 or (log_key is not None and len(log_key) != 16):
        raise ValueError("key file holds a 32-byte secret, an 8-byte device id and a 16-byte log key")
    if log_key is None:
        return _MAGIC + bytes(secret) + bytes(device_id)
    return _MAGIC_LOG + bytes(secret) + bytes(device_id) + bytes(log_key)
