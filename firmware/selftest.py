# Bench self-test, run on the device through mpremote (drawsense bench):
#   import selftest; selftest.report()          one JSON line of facts
#   import selftest; selftest.trigger(ms)       a TEST burst, signed as usual
# A TEST event is never treated as a draw by receivers.
import gc
import json
import sys
import time

from micropython import const

VERSION = "0.1.0"
_TEST_MS = const(1000)


def _hw():
    import board
    import hw

    return hw.Hardware(board), board


def report():
    """Print one line: firmware version, board, sensor, battery, counter,
    free heap, reset cause, provisioned or not."""
    import counter
    import keyfile

    h, board = _hw()
    try:
        ident = keyfile.load()
        key = "ok" if ident else "missing"
    except ValueError:
        ident, key = None, "damaged"
    try:
        mark = counter.FileStore(counter.PATH).read()
    except ValueError as e:
        mark = str(e)
    gc.collect()
    print(json.dumps({
        "firmware": VERSION,
        "micropython": "%d.%d.%d" % sys.implementation.version[:3],
        "board": board.NAME,
        "sensor": "out" if h.out() else "in",
        "battery_mv": h.battery_mv(),
        "key": key,
        "device": "".join("%02x" % b for b in ident[1]) if ident else None,
        "counter_mark": mark,
        "free_heap": gc.mem_free(),
        "reset_cause": h.reset_cause(),
    }))


def trigger(ms=_TEST_MS):
    """Send a TEST burst for ms milliseconds; prints the counters it used."""
    import advert
    import config
    import counter
    import events
    import keyfile

    h, _ = _hw()
    ident = keyfile.load()
    if ident is None:
        print(json.dumps({"sent": 0, "error": "unprovisioned"}))
        return
    ctr = counter.Counter(counter.FileStore(counter.PATH), config.COUNTER_RESERVE)
    signer = advert.Signer(ident[0])
    rest_mv = h.battery_mv()  # at rest, before the radio loads the cell, as every advert carries it
    h.radio_up()
    ctr.new_epoch()
    h.new_address()
    used = []
    error = None
    end = time.ticks_add(time.ticks_ms(), ms)
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        c = ctr.take()
        if c < 0:  # the counter has run out: signing on would reuse a nonce
            error = "counter exhausted"
            break
        used.append(c)
        h.advertise(signer.build(c, events.TEST, events.NO_DRAW, rest_mv))
        time.sleep_ms(min(config.REFRESH_MS, max(1, time.ticks_diff(end, time.ticks_ms()))))
    h.quiet()
    if error:
        print(json.dumps({"sent": len(used), "counters": used, "error": error}))
    else:
        print(json.dumps({"sent": len(used), "counters": used}))
