"""One receiver code path for a real Bluetooth adapter and for simulated air.

Everything that listens for drawsense adverts goes through bleak's
:class:`bleak.BleakScanner`. On a machine with an adapter that is bleak's own
platform backend; for simulated or recorded air it is
:class:`SimulatedAirScanner`, a bleak scanner backend that plays the JSON-lines
output of ``drawsense sim --json`` instead of listening to a radio::

    scanner = BleakScanner(callback, backend=SimulatedAirScanner, air="run.jsonl")

bleak (>= 3) hands every keyword it does not know itself to the backend, so
``air=`` (and the optional ``air_done=`` / ``air_duration=``) reach
:class:`SimulatedAirScanner` unchanged. The callback gets the same
``(BLEDevice, AdvertisementData)`` pairs it would get from BlueZ: address
upper-case, ``manufacturer_data`` keyed by company id, 16/32-bit UUIDs expanded
to 128-bit strings. ``platform_data`` is ``(json_object,)``, so a consumer can
read the virtual time ``platform_data[0]["t_ms"]``.

:func:`scan` is the single entry point: simulated air when ``air`` is given,
the real adapter otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import weakref
from collections.abc import Iterable
from typing import IO, Any, Callable, Literal, Optional, Union

from bleak import BleakScanner
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from drawsense import protocol
from drawsense.receive.adparse import parse_ad
from drawsense.receive.lines import MAX_LINE, OVERLONG, AirError, open_source

__all__ = ["AirError", "SimulatedAirScanner", "parse_ad", "scan", "DEFAULT_RSSI"]

AirSource = Union[str, "os.PathLike[str]", IO[str], IO[bytes], Iterable[Union[str, bytes]]]

DEFAULT_RSSI = -60
"""dBm given to an ``adv`` line without ``"rssi"``."""
MAX_T_MS = 1e12  # ~30 years of virtual time: past that a t_ms is garbage
# What an "adv" line's address may be: a Bluetooth device address.
_ADDR = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
MAX_SEEN = 4096  # addresses the simulated-air scanner remembers (oldest go first)


# ----------------------------------------------------------- the backend ----

_STOP = object()


class SimulatedAirScanner(BaseBleakScanner):
    """bleak scanner backend that plays recorded/simulated air instead of a radio.

    Construct it through bleak::

        done = asyncio.get_running_loop().create_future()      # optional
        scanner = BleakScanner(callback, backend=SimulatedAirScanner,
                               air=source, air_done=done, air_duration=None)
        async with scanner:
            n = await done        # number of adverts delivered; raises AirError

    ``air``: a path, ``"-"`` for stdin, a text or binary file object (read by a
    background thread, line by line, so a pipe works before it ends), or an
    iterable of lines (str or bytes, iterated in the event loop, so it must not
    block). ``air_done``: a future that gets the number of adverts delivered
    when the source is exhausted, or the exception that ended the feed (an
    :class:`AirError` for a bad line, or whatever a callback raised); also
    available as :attr:`done` once started. ``air_duration``: seconds of
    *virtual* time to play, counted from the first line's ``t_ms``, like a
    real scan's duration (None: all of it).

    Adverts go out in file order as fast as possible; every
    :attr:`YIELD_EVERY` lines the feed yields to the event loop so callbacks
    and other tasks run. :meth:`stop` pauses the feed; :meth:`start` resumes it.
    """

    YIELD_EVERY = 64

    def __init__(
        self,
        detection_callback: Optional[AdvertisementDataCallback],
        service_uuids: Optional[list[str]],
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        air: Optional[AirSource] = None,
        air_done: Optional["asyncio.Future[int]"] = None,
        air_duration: Optional[float] = None,
        **kwargs: Any,  # bluez=, cb=, adapter= (deprecated) from BleakScanner: no meaning here
    ):
        super().__init__(detection_callback, service_uuids)
        if air is None:
            raise TypeError("SimulatedAirScanner needs air=<path, '-', file object or iterable of lines>")
        if scanning_mode not in ("active", "passive"):
            raise BleakError(f"invalid scanning_mode {scanning_mode!r}")
        self._scanning_mode = scanning_mode
        self._source, self.source_name = open_source(air)
        self.done: Optional["asyncio.Future[int]"] = air_done
        self._duration_ms = None if air_duration is None else float(air_duration) * 1000.0
        self._t0: Optional[float] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._lineno = 0
        self._delivered = 0
        weakref.finalize(self, self._source.close)

    # -- bleak backend API

    async def start(self) -> None:
        if self.done is None:
            self.done = asyncio.get_running_loop().create_future()
        if self._task is not None or self.done.done():
            return
        self._task = asyncio.create_task(self._feed(), name=f"drawsense-air {self.source_name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        # wait() does not re-raise the task's CancelledError, but does raise
        # if the caller itself is being cancelled
        await asyncio.wait({task})

    # -- feeding

    async def _feed(self) -> None:
        try:
            while True:
                line = await self._source.next()
                if line is None:
                    break
                self._lineno += 1
                if line is OVERLONG:
                    raise self._error(f"a line longer than {MAX_LINE >> 20} MiB (an advert line is ~300 bytes): "
                                      f"not the JSON lines of 'drawsense sim --json'")
                if self._handle(line) is _STOP:
                    break
                # the line is fully handled: a cancel (stop()) here loses nothing
                if self._lineno % self.YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._finish(exc=e)
            return
        self._finish()

    def _finish(self, exc: Optional[BaseException] = None) -> None:
        self._source.close()
        self._task = None
        if self.done is None or self.done.done():
            return
        if exc is not None:
            self.done.set_exception(exc)
        else:
            self.done.set_result(self._delivered)

    def _handle(self, line: Union[str, bytes]) -> Optional[object]:
        if not line.strip():
            return None
        # A served board's --events file holds the virtual board's own lines,
        # "@vb {...}" with "t" in microseconds: the same air, read as is.
        served = line[:4] in ("@vb ", b"@vb ")
        try:
            obj = json.loads(line[4:] if served else line)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; [[[[... nested past the limit
            obj = None
        if not isinstance(obj, dict):
            raise self._error("not a JSON object")
        if served:
            t_us = obj.pop("t", None)
            if isinstance(t_us, bool) or not isinstance(t_us, (int, float)):
                raise self._error('"@vb" line without "t" (microseconds)')
            obj["t_ms"] = t_us / 1000
        t = obj.get("t_ms")
        if self._duration_ms is not None and isinstance(t, (int, float)) and not isinstance(t, bool) \
                and 0 <= t <= MAX_T_MS:
            if self._t0 is None:
                self._t0 = float(t)
            elif t - self._t0 > self._duration_ms:
                return _STOP
        if obj.get("type") == "adv":
            self._deliver(obj)
        return None

    def _error(self, what: str) -> AirError:
        return AirError(f"{self.source_name}:{self._lineno}: {what}")

    def _deliver(self, obj: dict) -> None:
        addr = obj.get("addr")
        if not isinstance(addr, str) or not addr:
            raise self._error('"adv" line without "addr"')
        if not _ADDR.fullmatch(addr):
            raise self._error(f'"addr" is not a Bluetooth address like 12:34:56:78:9a:bc: {addr[:40]!r}')
        data = obj.get("data")
        if not isinstance(data, str):
            raise self._error('"adv" line without "data" (hex)')
        try:
            raw = bytes.fromhex(data)
        except ValueError:
            raise self._error(f'"data" is not hex: {data[:40]!r}') from None
        rssi = obj.get("rssi", DEFAULT_RSSI)
        if isinstance(rssi, bool) or not isinstance(rssi, (int, float)) or not -127 <= rssi <= 20:
            raise self._error(f'"rssi" is not a dBm value from -127 to 20: {rssi!r}')
        t = obj.get("t_ms")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= MAX_T_MS:
            # (comparisons, not math.isfinite: a 400-digit int would overflow it; NaN fails both)
            raise self._error(f'"t_ms" is not a number of milliseconds from 0 to {MAX_T_MS:g}: {str(t)[:40]}')

        f = parse_ad(raw)
        adv = AdvertisementData(
            local_name=f["local_name"],
            manufacturer_data=f["manufacturer_data"],
            service_data=f["service_data"],
            service_uuids=f["service_uuids"],
            tx_power=f["tx_power"],
            rssi=int(round(rssi)),
            platform_data=(obj,),
        )
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = addr.upper()  # as BlueZ and WinRT report it
        seen = self.seen_devices.get(address)
        # BlueZ keeps a device's name once advertised; do the same
        name = adv.local_name if adv.local_name is not None else (seen[0].name if seen else None)
        device = self.create_or_update_device(address, address, name, obj, adv)
        # Every burst comes from a new random address: keep the most recent
        # MAX_SEEN, as a radio's cache ages devices out (100k addresses once
        # cost 161 MB here).
        while len(self.seen_devices) > MAX_SEEN:
            del self.seen_devices[next(iter(self.seen_devices))]
        self._delivered += 1
        self.call_detection_callbacks(device, adv)


# ------------------------------------------------------------ entry point ----

def _real_attempts(adapter: Optional[str], platform: str = sys.platform) -> list[dict]:
    """BleakScanner kwargs to try in order on a real adapter: passive first
    where the platform can do it, then bleak's default (active)."""
    bluez: dict = {"adapter": adapter} if adapter else {}
    attempts: list[dict] = []
    if platform.startswith("linux"):
        # BlueZ scans passively only through an advertisement monitor, which
        # needs or_patterns (and BlueZ >= 5.56 with --experimental): match
        # manufacturer data from drawsense's company id.
        from bleak.args.bluez import OrPattern

        pattern = OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA,
                            protocol.COMPANY.to_bytes(2, "little"))
        attempts.append({"scanning_mode": "passive", "bluez": {**bluez, "or_patterns": [pattern]}})
    elif platform == "win32":
        attempts.append({"scanning_mode": "passive"})
    # macOS (CoreBluetooth) cannot scan passively
    attempts.append({"scanning_mode": "active", "bluez": bluez} if bluez else {})
    return attempts


async def scan(
    callback: Callable[..., Any],
    *,
    air: Optional[AirSource] = None,
    adapter: Optional[str] = None,
    duration: Optional[float] = None,
) -> None:
    """Deliver adverts to ``callback(device, advertisement_data)`` through bleak.

    With ``air``: simulated air (see :class:`SimulatedAirScanner`), until the
    source is exhausted or ``duration`` seconds of virtual time have been
    played; raises :class:`AirError` for a bad line. Without: the real adapter
    (``adapter``, e.g. ``"hci0"``, BlueZ only), passive where the platform
    allows it, until ``duration`` seconds pass or forever. Cancelling the
    task (Ctrl-C under ``asyncio.run``) stops the scanner.
    """
    if air is not None:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        scanner = BleakScanner(callback, backend=SimulatedAirScanner,
                               air=air, air_done=done, air_duration=duration)
        async with scanner:
            await done
        return

    attempts = _real_attempts(adapter)
    for i, kw in enumerate(attempts):
        scanner = BleakScanner(callback, **kw)
        try:
            await scanner.start()
        except BleakBluetoothNotAvailableError:
            raise
        except BleakError:
            if i == len(attempts) - 1:
                raise
            continue  # passive refused (e.g. BlueZ without the monitor API): try the next
        break
    try:
        if duration is None:
            await asyncio.get_running_loop().create_future()  # until cancelled
        else:
            await asyncio.sleep(duration)
    finally:
        await scanner.stop()
