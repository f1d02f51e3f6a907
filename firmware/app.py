# The sensor's main loop: edges -> debounce -> state machine -> bursts -> radio.
# Receives the hardware (hw.Hardware or anything with the same methods), the
# timing config, and the signer and counter (None when unprovisioned); it
# imports no hardware module itself.
from time import ticks_diff

import burst
import events
from detect import DRAWN, FAULT, NAMES, Detector
from edges import EdgeLog


def _earliest(now, *ticks):
    ms = None
    for t in ticks:
        if t is not None:
            d = ticks_diff(t, now)
            if ms is None or d < ms:
                ms = d
    return ms


def run(hw, cfg, signer=None, counter=None):
    now = hw.now()
    log = EdgeLog()
    det = Detector(cfg, hw.out(), now)
    bursts = burst.Bursts(cfg)
    settled = det.state  # last non-FAULT state, to tell what a fault cleared to
    hw.report("boot", hw.board.NAME, NAMES[det.state])
    if signer is None:
        # Nothing on air: a receiver must never see an unauthenticated draw.
        hw.report("unprovisioned")
    hw.arm(log.irq)
    if det.state == DRAWN:
        # Booting with the gun out: after a brownout mid-burst (a coin cell
        # sagging under the radio's load) or a watchdog reset, the draw
        # must not go unreported. A camera recording for nothing is cheap.
        hw.report("state", NAMES[DRAWN], "draw")
        bursts.start(events.DRAW, now, now)
    while True:
        now = hw.now()
        if det.state == FAULT:
            det.sample(hw.out(), now)
        else:
            n, t, level = log.take()
            if n:
                det.edges(n, hw.is_out(level), t)
            out = hw.out()
            if out != det.deb.raw:  # an edge the handler saw with a stale level
                det.edges(1, out, now)
        was_out = det.deb.out
        new = det.poll(now)
        if det.deb.out != was_out:
            hw.report("level", "out" if det.deb.out else "in")
        if new >= 0:
            event = 0
            if new == FAULT:
                hw.disarm()
                event = events.FAULT
            else:
                if new != settled:
                    event = events.DRAW if new == DRAWN else events.HOLSTER
                settled = new
                log.take()  # edges from before the (re-)arm are history
                hw.arm(log.irq)
            hw.report("state", NAMES[new], events.NAMES[event])
            if event:
                bursts.start(event, now, det.changed_at)
        action = bursts.poll(now)
        if action == burst.SEND:
            _send(hw, bursts, signer, counter, now)
        elif action == burst.STOP:
            hw.quiet()
        wait = _earliest(now, det.due(), bursts.due())
        if det.state == FAULT and (wait is None or wait > cfg.FAULT_POLL_MS):
            wait = cfg.FAULT_POLL_MS
        if wait is None or wait > cfg.IDLE_MS:
            wait = cfg.IDLE_MS
        hw.sleep(wait if wait > 0 else 1)


def _send(hw, bursts, signer, counter, now):
    fresh = bursts.new
    if fresh:
        bursts.new = False
        hw.report("burst", events.NAMES[bursts.event], bursts.length if signer else "unsent")
    if signer is None:
        return
    if fresh:
        counter.new_epoch()  # a new burst: new epoch, new hint, new address
        hw.new_address()
    c = counter.take()
    if c < 0:
        hw.report("counter", "exhausted")
        return
    hw.advertise(signer.build(c, bursts.event, bursts.since_draw(now)))


def main(board, cfg):
    """Build the hardware and the identity, then run. Called by main.py."""
    import advert
    import counter
    import hw as hwmod
    import keyfile

    hw = hwmod.Hardware(board)
    signer = ctr = None
    try:
        ident = keyfile.load()
        if ident is not None:
            ctr = counter.Counter(counter.FileStore("ds_ctr.bin"), cfg.COUNTER_RESERVE)
            signer = advert.Signer(ident[0])
            hw.report("device", "".join("%02x" % b for b in ident[1]))
    except ValueError as e:  # damaged key or counter file: never guess
        hw.report("storage", str(e).replace(" ", "_"))
        signer = ctr = None
    run(hw, cfg, signer, ctr)
