# The device's identity, written by provisioning (drawsense provision / sim):
#   "DSK1" | secret (32 bytes: K_enc | K_hint) | device id (8 bytes)
# The secret never leaves this file except into the signer; nothing prints it.
# This file is the format's one definition: the host packs the file with
# pack() (run under CPython) and checks a device's file with load() (its
# source sent to the device ahead of drawsense/device/mp/keystate.py).
from micropython import const

PATH = "ds_key.bin"
_MAGIC = b"DSK1"
_LEN = const(44)


def load(path=PATH):
    """(secret, device_id) or None if the device was never provisioned.
    Raises ValueError if the file is there but damaged."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) != _LEN or data[:4] != _MAGIC:
        raise ValueError("key file damaged")
    return data[4:36], data[36:44]


def pack(secret, device_id):
    """The file's bytes for a 32-byte secret and an 8-byte device id (the
    host's side of load()). Raises ValueError on other lengths."""
    if len(secret) != 32 or len(device_id) != 8:
        raise ValueError("key file holds a 32-byte secret and an 8-byte device id")
    return _MAGIC + bytes(secret) + bytes(device_id)
