"""The files provisioning writes and the code the host runs on a board.

* drawsense.firmware.key_file / counter_file make the key and counter files
  with the firmware's own code (keyfile.pack, counter.FileStore), and the
  firmware's readers take them back; the bytes are pinned, so provisioning
  writes what it always wrote.

Run: pytest -q tests/test_device_code.py
"""

from __future__ import annotations

import struct

import pytest

from drawsense import firmware

SECRET = bytes(range(32))  # a test identity (not a secret of any device)
DEVICE_ID = b"testdev1"


# --------------------------------------------------------------------------- the files


def test_key_file_is_the_firmwares_pack_and_its_load_reads_it(tmp_path):
    data = firmware.key_file(SECRET, DEVICE_ID)
    assert data == firmware.module("keyfile").pack(SECRET, DEVICE_ID)
    assert data == b"DSK1" + SECRET + DEVICE_ID  # what provisioning has always written
    path = tmp_path / firmware.KEY_FILE
    path.write_bytes(data)
    assert firmware.module("keyfile").load(str(path)) == (SECRET, DEVICE_ID)


@pytest.mark.parametrize("secret, device_id", [(SECRET[:31], DEVICE_ID), (SECRET, DEVICE_ID + b"x"),
                                                (SECRET[:31] + b"\0" * 2, DEVICE_ID[:7])])
def test_key_file_refuses_other_lengths(secret, device_id):
    with pytest.raises(ValueError, match="32-byte secret and an 8-byte device id"):
        firmware.key_file(secret, device_id)


@pytest.mark.parametrize("mark", [0, 1, 4096, 0xFFFFFFFF])
def test_counter_file_is_what_filestore_writes_and_reads(tmp_path, mark):
    data = firmware.counter_file(mark)
    assert data == struct.pack("<II", mark, mark ^ 0xFFFFFFFF)  # what provisioning has always written
    path = tmp_path / firmware.CTR_FILE
    path.write_bytes(data)
    assert firmware.module("counter").FileStore(str(path)).read() == mark


@pytest.mark.parametrize("mark", [-1, 1 << 32])
def test_counter_file_refuses_a_mark_out_of_range(mark):
    with pytest.raises(ValueError, match="not a 32-bit value"):
        firmware.counter_file(mark)


def test_file_names_are_the_firmwares():
    assert (firmware.KEY_FILE, firmware.CTR_FILE) == (firmware.module("keyfile").PATH,
                                                      firmware.module("counter").PATH)
    assert (firmware.KEY_FILE, firmware.CTR_FILE) == ("ds_key.bin", "ds_ctr.bin")
