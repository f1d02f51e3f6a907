"""A key store in memory for Receiver tests that need no SQLite: one device,
its floor where the test puts it; writes are accepted and dropped."""

from __future__ import annotations

from drawsense.keystore import Device


class OneDeviceStore:
    def __init__(self, secret: bytes, last_counter: int = -1, name: str = "h1"):
        self.device = Device(name, b"testdev1", secret, last_counter)

    def devices(self) -> list[Device]:
        return [self.device]

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
