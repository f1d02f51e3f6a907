"""Advertising data (Core Vol 3, Part C, 11) parsed the way bleak's platform
backends present it: manufacturer data keyed by company id, 16/32-bit UUIDs
expanded to 128-bit strings. The simulated-air backend (receive.air) uses it
so a callback cannot tell simulated air from BlueZ's."""

from __future__ import annotations

from bleak.assigned_numbers import AdvertisementDataType
from bleak.uuids import normalize_uuid_16, normalize_uuid_32


def _uuid128(le: bytes) -> str:
    h = le[::-1].hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def parse_ad(data: bytes) -> dict:
    """Legacy advertising payload (AD structures ``[len][type][data...]``) to the
    fields bleak puts in :class:`AdvertisementData`, plus ``flags``::

        {"local_name": str|None, "manufacturer_data": {company: bytes},
         "service_data": {uuid128: bytes}, "service_uuids": [uuid128, ...],
         "tx_power": int|None, "flags": int|None}

    A zero length byte ends the significant part (padding); a structure whose
    length runs past the end stops parsing there, keeping what came before.
    Never raises on malformed input.
    """
    data = bytes(data)
    out: dict = {
        "local_name": None,
        "manufacturer_data": {},
        "service_data": {},
        "service_uuids": [],
        "tx_power": None,
        "flags": None,
    }
    short_name = None
    i, n = 0, len(data)
    while i < n:
        length = data[i]
        if length == 0 or i + 1 + length > n:
            break
        ad_type = data[i + 1]
        v = data[i + 2:i + 1 + length]
        i += 1 + length
        if ad_type == AdvertisementDataType.FLAGS:
            if v:
                out["flags"] = v[0]
        elif ad_type == AdvertisementDataType.COMPLETE_LOCAL_NAME:
            out["local_name"] = v.decode("utf-8", "replace")
        elif ad_type == AdvertisementDataType.SHORTENED_LOCAL_NAME:
            short_name = v.decode("utf-8", "replace")
        elif ad_type == AdvertisementDataType.TX_POWER_LEVEL:
            if v:
                out["tx_power"] = int.from_bytes(v[:1], "little", signed=True)
        elif ad_type == AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA:
            if len(v) >= 2:
                out["manufacturer_data"][int.from_bytes(v[:2], "little")] = v[2:]
        elif ad_type in (AdvertisementDataType.INCOMPLETE_LIST_SERVICE_UUID16,
                         AdvertisementDataType.COMPLETE_LIST_SERVICE_UUID16):
            for j in range(0, len(v) - 1, 2):
                _add_uuid(out, normalize_uuid_16(int.from_bytes(v[j:j + 2], "little")))
        elif ad_type in (AdvertisementDataType.INCOMPLETE_LIST_SERVICE_UUID32,
                         AdvertisementDataType.COMPLETE_LIST_SERVICE_UUID32):
            for j in range(0, len(v) - 3, 4):
                _add_uuid(out, normalize_uuid_32(int.from_bytes(v[j:j + 4], "little")))
        elif ad_type in (AdvertisementDataType.INCOMPLETE_LIST_SERVICE_UUID128,
                         AdvertisementDataType.COMPLETE_LIST_SERVICE_UUID128):
            for j in range(0, len(v) - 15, 16):
                _add_uuid(out, _uuid128(v[j:j + 16]))
        elif ad_type == AdvertisementDataType.SERVICE_DATA_UUID16:
            if len(v) >= 2:
                out["service_data"][normalize_uuid_16(int.from_bytes(v[:2], "little"))] = v[2:]
        elif ad_type == AdvertisementDataType.SERVICE_DATA_UUID32:
            if len(v) >= 4:
                out["service_data"][normalize_uuid_32(int.from_bytes(v[:4], "little"))] = v[4:]
        elif ad_type == AdvertisementDataType.SERVICE_DATA_UUID128:
            if len(v) >= 16:
                out["service_data"][_uuid128(v[:16])] = v[16:]
    if out["local_name"] is None:
        out["local_name"] = short_name
    return out


def _add_uuid(out: dict, uuid: str) -> None:
    if uuid not in out["service_uuids"]:
        out["service_uuids"].append(uuid)
