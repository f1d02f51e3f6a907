"""Helpers for the receiving side's tests: a key store in memory for Receiver
tests that need no SQLite (one device, its floor where the test puts it;
writes are accepted and dropped), and Feeder, which accepts frames into a
real key store as the receiver does."""

from __future__ import annotations

from drawsense.keystore import Device, KeyStore

T0 = 1_700_000_000.0   # an arbitrary unix time


class Feeder:
    """Accepts frames for devices the way the receiver does: rising counters."""

    def __init__(self, store: KeyStore):
        self.store, self.counters = store, {}

    def __call__(self, name, seen, mv, low=False) -> bool:
        c = self.counters[name] = self.counters.get(name, 0) + 16
        return self.store.accept(name, c, seen, mv, low)


class OneDeviceStore:
    def __init__(self, secret: bytes, last_counter: int = -1, name: str = "h1"):
        self.device = Device(name, b"testdev1", secret, last_counter)

    def devices(self) -> list[Device]:
        return [self.device]

    def damaged(self) -> list:
        return []

    def accept(self, *a) -> bool:
        return True

    def accept_many(self, rows) -> None:
        pass

    def wait(self, ms: int) -> None:
        pass

    def acted(self) -> dict:
        return {}

    def set_acted(self, *a) -> None:
        pass
