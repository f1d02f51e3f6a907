# Timing defaults for the draw sensor, in integer milliseconds.
# Why each value is what it is: docs/design.md ("Timing defaults").
from micropython import const

# A draw counts once the sensor has read "out" continuously this long.
# Contact bounce is ~1.6 ms typical and 6.2 ms worst across 18 switches
# (Ganssle, "A Guide to Debouncing"); reed switches bounce < 1 ms but open
# briefly under vibration. 30 ms is ~5x the worst bounce, far longer than a
# jolt-induced open, and short against the ~1 s it takes to draw and aim.
DRAW_CONFIRM_MS = const(30)
# A re-holster counts after this long continuously "in": re-seating wiggles
# must not end a draw, and nothing is urgent about a holster event.
HOLSTER_CONFIRM_MS = const(1000)

# FAULT: more than FAULT_EDGES raw edges within FAULT_WINDOW_MS is a sensor
# that chatters without settling. In FAULT the pin IRQ is off and the line is
# sampled every FAULT_POLL_MS; it clears after FAULT_CLEAR_MS of one level.
FAULT_EDGES = const(40)
FAULT_WINDOW_MS = const(1000)
FAULT_POLL_MS = const(100)
FAULT_CLEAR_MS = const(5000)

# Bursts: a draw advertises for BURST_MS at the board's fastest legal
# interval; while drawn a REMINDER_BURST_MS burst every REMINDER_MS (+-10 %,
# drawn afresh each time: burst.jittered) tells cameras that arrive later.
# Holster and fault send their own short bursts.
BURST_MS = const(3000)
REMINDER_MS = const(10000)
REMINDER_BURST_MS = const(500)
HOLSTER_BURST_MS = const(1000)
FAULT_BURST_MS = const(1000)
# During a burst the payload is rebuilt this often so "ms since the draw"
# stays current to within this span. A burst carries at most 16 payloads
# (one counter epoch): BURST_MS / REFRESH_MS must stay below 16.
REFRESH_MS = const(500)

# The advert counter reserves this many values ahead in flash: one flash
# write per COUNTER_RESERVE payloads, at most that many skipped after a
# power cut (shared/REFERENCE.md: N = 64-256).
COUNTER_RESERVE = const(256)

# Longest single sleep when nothing is pending (the pin wakes us anyway).
IDLE_MS = const(3600000)

# Heartbeat: a short burst with the battery every HEARTBEAT_H hours (+-25 %,
# drawn afresh, so its phase does not link a sensor's bursts), so a
# fleet sees every sensor's battery even when no gun is drawn. Six hours:
# four wake-ups a day cost well under the deep-sleep current's share of the
# budget (drawsense power shows the breakdown), and a dead sensor is
# flagged (silent for two periods) within half a day.
HEARTBEAT_H = const(6)
HEARTBEAT_BURST_MS = const(300)
# After a brownout (a "power-on" with our record still in RTC memory) the
# device says so in a short boot burst.
BOOT_BURST_MS = const(500)
# Woken from deep sleep by the pin: the level must still hold this long
# after we can first read it (a vibration that woke us may be over).
WAKE_RECHECK_MS = const(5)

# Event log (evlog.py, docs/protocol.md "Event log"): records of 32 bytes in
# segment files of one 4 KiB flash block each (a 32-byte header and 127
# records). The ring keeps LOG_SEGMENTS of them; each board sets its own from
# the flash it has (board.py), this is the fallback.
LOG_SEG_RECORDS = const(127)
LOG_SEGMENTS = const(8)
