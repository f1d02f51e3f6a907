# The sensor's main loop: edges -> debounce -> state machine -> bursts -> radio.
# Receives the hardware (hw.Hardware or anything with the same methods) and
# the timing config; imports no hardware module itself.
from time import ticks_diff

import advert
import burst
from detect import DRAWN, FAULT, HOLSTERED, NAMES, Detector
from edges import EdgeLog


def _earliest(now, *ticks):
    ms = None
    for t in ticks:
        if t is not None:
            d = ticks_diff(t, now)
            if ms is None or d < ms:
                ms = d
    return ms


def run(hw, cfg):
    now = hw.now()
    log = EdgeLog()
    det = Detector(cfg, hw.out(), now)
    bursts = burst.Bursts(cfg)
    settled = det.state  # last non-FAULT state, to tell what a fault cleared to
    seq = 0
    hw.report("boot", hw.board.NAME, NAMES[det.state])
    hw.arm(log.irq)
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
                event = advert.FAULT
            else:
                if new != settled:
                    event = advert.DRAW if new == DRAWN else advert.HOLSTER
                settled = new
                if det.state != FAULT:
                    log.take()  # edges from before the re-arm are history
                    hw.arm(log.irq)
            hw.report("state", NAMES[new], advert.NAMES[event])
            if event:
                bursts.start(event, now, det.changed_at)
        action = bursts.poll(now)
        if action == burst.SEND:
            if bursts.new:
                bursts.new = False
                hw.report("burst", advert.NAMES[bursts.event], bursts.length)
            seq += 1
            hw.advertise(advert.build(bursts.event, bursts.since_draw(now), seq))
        elif action == burst.STOP:
            hw.quiet()
        wait = _earliest(now, det.due(), bursts.due())
        if det.state == FAULT and (wait is None or wait > cfg.FAULT_POLL_MS):
            wait = cfg.FAULT_POLL_MS
        if wait is None or wait > cfg.IDLE_MS:
            wait = cfg.IDLE_MS
        hw.sleep(wait if wait > 0 else 1)
