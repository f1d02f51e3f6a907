# Event types: what an advert says happened (docs/protocol.md).
from micropython import const

DRAW = const(1)
HOLSTER = const(2)
REMINDER = const(3)
HEARTBEAT = const(4)
FAULT = const(5)
BOOT = const(6)
TEST = const(7)  # a bench self-test: receivers never treat it as a draw
NAMES = ("none", "draw", "holster", "reminder", "heartbeat", "fault", "boot", "test")

NO_DRAW = const(0xFFFFFFFF)  # "ms since the draw" when there is none

# Advert flags (docs/protocol.md)
FLAG_BATTERY_LOW = const(1)
FLAG_BROWNOUT = const(2)
