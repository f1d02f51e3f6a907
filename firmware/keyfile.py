# The device's identity, written by provisioning (drawsense provision / sim):
#   "DSK1" | secret (32 bytes: K_enc | K_hint) | device id (8 bytes)
# The secret never leaves this file except into the signer; nothing prints it.
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
