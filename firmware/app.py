# The sensor's main loop: edges -> debounce -> state machine -> bursts -> radio.
# Receives the hardware (hw.Hardware or anything with the same methods), the
# timing config, the signer and counter (None when unprovisioned) and what
# survived deep sleep; it imports no hardware module itself.
from time import ticks_add, ticks_diff

import burst
import events
import evlog
import rtcstate
from battery import Battery
from detect import DRAWN, FAULT, NAMES, Detector
from counter import EPOCH_BITS as EPOCH_SHIFT
from edges import EdgeLog


def run(hw, cfg, signer=None, counter=None, saved=None, woke=False, brownout=False, evl=None):
    """Run until deep sleep (which restarts main) or forever on light-sleep boards.
    `evl`: the event log (evlog.Log), None for a device without a log key."""
    now = hw.now()
    rtc_now = hw.rtc_ms()
    saved = saved or rtcstate.Record()
    log = EdgeLog()
    hw.arm(log.irq)  # before the radio comes up: edges during it are kept
    det = _detector(hw, cfg, saved, woke, now)
    bat = Battery(hw.board.BATTERY_LOW_MV, hw.board.BATTERY_CLEAR_MV, bool(saved.flags & rtcstate.LOW),
                  saved.battery_mv)
    bat.at_rest(hw.battery_mv())
    bursts = burst.Bursts(cfg, hw.rand)
    bursts.restore(now, _ticks_of(saved.drawn_at, rtc_now, now), _ticks_of(saved.remind_at, rtc_now, now),
                   _ticks_of(saved.heartbeat_at, rtc_now, now))
    saved.heartbeat_at = _rtc_of(bursts.heartbeat, now, rtc_now)
    # faults in a row stay counted until the device has run clean (a burst
    # completed, or it sleeps deep with nothing pending)
    _save(hw, saved, det, bat, counter, saved.faults())
    _boot(hw, det, bursts, signer, counter, woke, brownout, now)
    def settling():
        # a line change in from the IRQ or being counted (a draw, maybe):
        # the log's next flash step waits for the next pass
        return log.fresh() or det.settling

    if evl is not None and not woke:
        cause = hw.reset_cause_name()
        _note(evl, hw, events.BOOT, evlog.CAUSES.index(cause) if cause in evlog.CAUSES else 0, bat, brownout)
        if bursts.event == events.DRAW:
            _note(evl, hw, events.DRAW, bursts.since_draw(now), bat, brownout)
    while True:
        hw.feed()
        now = hw.now()
        n, t, level = log.take()
        det.update(now, hw.out(), n, t, hw.is_out(level))
        was_out = det.out
        new = det.poll(now)
        if det.out != was_out:
            hw.report("level", "out" if det.out else "in")
        if new >= 0:
            _transition(hw, det, bursts, log, now)
            if evl is not None and det.event:
                _note(evl, hw, det.event, bursts.since_draw(now), bat, brownout)
        action = bursts.poll(now)
        if action == burst.STOP:
            was_low = bat.low
            _stopped(hw, bat, counter, saved)
            if evl is not None and bat.low and not was_low:
                _note(evl, hw, evlog.LOW_BATTERY, bat.loaded_mv, bat, brownout)
            brownout = False  # reported
        elif action != burst.IDLE:
            c = _send(hw, bursts, signer, counter, bat, brownout, now, action == burst.START)
            if evl is not None and c >= 0 and action == burst.START:
                evl.sent(bursts.event, c >> EPOCH_SHIFT)  # the log record names the burst's epoch
        logging = evl is not None and evl.pending
        if logging:
            # Here, after this pass's advert (a draw's first one included)
            # is on its way, never before it; and before any sleep. A step
            # at a time, none while the line is settling (a draw may be
            # coming: its advert must not wait for a segment rollover).
            evl.flush(settling)
            logging = bool(evl.pending)
        wait = _ms_until(now, cfg.IDLE_MS, det.look_by(now), bursts.due())
        if logging and log.fresh():
            wait = 0  # the edge first, then the rest of the log
        if wait <= 0:
            continue
        if hw.deep and det.idle and not bursts.event and not logging:
            _deep_sleep(hw, saved, det, bat, counter, bursts, now, wait)  # never returns
        hw.sleep(wait, log)


def _detector(hw, cfg, saved, woke, now):
    """The state machine, from the line as it reads now."""
    out = hw.out()
    if not woke:
        return Detector(cfg, out, now)
    # Woken from deep sleep: the pin that woke us moved at least the
    # board's boot time ago; count the level from then, but only once it
    # has also held WAKE_RECHECK_MS since we could first look.
    det = Detector(cfg, out, ticks_add(now, -hw.board.BOOT_MS), saved.state)
    det.hold_until(ticks_add(now, cfg.WAKE_RECHECK_MS))
    return det


def _boot(hw, det, bursts, signer, counter, woke, brownout, now):
    """Say how the device came up, bring the radio up, and start the burst
    a boot with the gun out or after a brownout calls for."""
    if not woke:
        hw.report("boot", hw.board.NAME, NAMES[det.state], hw.reset_cause_name())
        if signer is None:
            # Nothing on air: a receiver must never see an unauthenticated draw.
            hw.report("unprovisioned")
    if counter:
        counter.ensure(16)  # any flash write now, at boot, not before a draw's advert
    hw.radio_up()
    if brownout:
        hw.report("brownout")  # every advert until the next stop carries the flag
    if not woke and det.state == DRAWN:
        # Booting with the gun out (a brownout mid-burst, a watchdog reset):
        # the draw must not go unreported. A camera recording for nothing is cheap.
        hw.report("state", NAMES[DRAWN], "draw")
        bursts.start(events.DRAW, now, now)
    elif brownout:
        bursts.start(events.BOOT, now)


def _transition(hw, det, bursts, log, now):
    """The detector entered det.state, which means det.event on air."""
    if det.state == FAULT:
        hw.disarm()  # the line is sampled instead (det.look_by)
    else:
        if det.state == DRAWN and not det.event:
            bursts.remind_now(now)  # a fault cleared with the gun still out
        log.take()  # edges from before the (re-)arm are history
        hw.arm(log.irq)
    hw.report("state", NAMES[det.state], events.NAMES[det.event])
    if det.event:
        bursts.start(det.event, now, det.changed_at)


def _stopped(hw, bat, counter, saved):
    """A burst has ended: the radio goes quiet."""
    bat.loaded(hw.battery_mv())  # right after sending: the cell under load
    hw.quiet()
    if saved.faults():  # ran clean through a burst: the fault count starts over
        saved.set_faults(0)
        rec = rtcstate.load(hw.load_rtc())  # as RTC memory holds it (rp2: none)
        if rec is not None:
            rec.set_faults(0)
            hw.save_rtc(rec.pack())
    if counter:
        counter.ensure(16)  # top up now, so no later advert waits for flash


def _deep_sleep(hw, saved, det, bat, counter, bursts, now, ms):
    """Nothing pending but timers: sleep deepest, waking on the pin moving
    away from where it rests, or at the next timer (ms). Never returns."""
    rtc_now = hw.rtc_ms()
    if counter:
        counter.ensure(16)  # so the wake path never writes flash first
    saved.drawn_at = _rtc_of(bursts.drawn_at, now, rtc_now)
    saved.remind_at = _rtc_of(bursts.remind, now, rtc_now)
    saved.heartbeat_at = _rtc_of(bursts.heartbeat, now, rtc_now)
    _save(hw, saved, det, bat, counter, 0)
    hw.deep_sleep(ms, not det.out)


def _save(hw, rec, det, bat, counter, faults):
    """Write `rec` to RTC memory with the loop's state, battery, counter and
    fault count (its times are the caller's)."""
    rec.state = det.state
    rec.flags = rtcstate.RUNNING | (rtcstate.LOW if bat.low else 0)
    rec.set_faults(faults)
    rec.ctr_next = counter.next if counter else 0
    rec.ctr_limit = counter.limit if counter else 0
    rec.battery_mv = bat.rest_mv
    hw.save_rtc(rec.pack())


def _note(evl, hw, event, arg, bat, brownout):
    """An event for the log, stamped now in RTC ms (written at the next flush)."""
    flags = (events.FLAG_BATTERY_LOW if bat.low else 0) | (events.FLAG_BROWNOUT if brownout else 0)
    evl.note(event, hw.rtc_ms(), arg & 0xFFFFFFFF, bat.rest_mv, flags)


def _ms_until(now, most, *ticks):
    """ms from now to the earliest of ticks (None: not pending), `most` at most."""
    ms = most
    for t in ticks:
        if t is not None:
            d = ticks_diff(t, now)
            if d < ms:
                ms = d
    return ms


def _ticks_of(rtc_at, rtc_now, now):
    """An RTC-ms instant as a ticks value (None for NONE)."""
    if rtc_at == rtcstate.NONE:
        return None
    d = rtc_at - rtc_now
    d = max(-(1 << 28), min(d, 1 << 28))  # ticks_add's range; days either way
    return ticks_add(now, d)


def _rtc_of(t, now, rtc_now):
    return rtcstate.NONE if t is None else rtc_now + ticks_diff(t, now)


def _send(hw, bursts, signer, counter, bat, brownout, now, fresh):
    """One payload of the burst on air; `fresh`: its first. Returns the
    counter it used, -1 if none."""
    if signer is None:
        if fresh:
            hw.report("burst", events.NAMES[bursts.event], "unsent")
        return -1
    if fresh:
        if not hw.radio_on:
            bat.at_rest(hw.battery_mv())  # before the radio loads the cell
        counter.new_epoch()  # a new burst: new epoch, new hint, new address
        hw.new_address()
    c = counter.take()
    if c < 0:
        hw.report("counter", "exhausted")
        return -1
    flags = (events.FLAG_BATTERY_LOW if bat.low else 0) | (events.FLAG_BROWNOUT if brownout else 0)
    hw.advertise(signer.build(c, bursts.event, bursts.since_draw(now), bat.rest_mv, flags))
    if fresh:  # after the advert is on its way: printing takes time too
        hw.report("burst", events.NAMES[bursts.event], bursts.length)
    return c


class Timing:
    """The timing defaults (config.py), with the board's own value wherever
    board.py defines the same name: a sensor that samples at 20 Hz needs a
    longer DRAW_CONFIRM_MS than a reed switch's bounce does."""

    def __init__(self, cfg, board):
        for name in dir(cfg):
            if name[:1] != "_" and name.isupper():
                setattr(self, name, getattr(board, name, getattr(cfg, name)))


def main(board, cfg):
    """Build the hardware and the identity, then run. Called by main.py.

    A fault anywhere (a flash write or a radio call that raises, a bug) is
    reported on the console where the bench reads it, and the device starts
    again: a reset, after which a gun that is out is reported as a draw
    (run's boot-with-gun-out path) with a counter that resumes past every
    value used. A hang is the watchdog's (hw.Hardware)."""
    import hw as hwmod

    try:
        _main(board, cfg, hwmod)
    except KeyboardInterrupt:  # ^C on the bench stops it, and the watchdog lets it be
        hwmod.stopped()
        raise
    except Exception as e:
        try:
            hwmod.report("fault", type(e).__name__, str(e).replace(" ", "_") or "-")
            # A fault that comes back at every boot must not reset the chip
            # four times a second (each cold boot writes flash and skips a
            # counter reserve): wait 1 s, 2 s, 4 s ... up to an hour, the
            # count kept in RTC memory until the device runs clean.
            rec = rtcstate.load(hwmod.rtc_load())
            n = 0
            if rec is not None:
                n = rec.faults()
                rec.set_faults(n + 1)
                hwmod.rtc_save(rec.pack())
            hwmod.pause(min(1000 << n, 3600000))
        finally:
            hwmod.reset()


def _main(board, cfg, hwmod):
    import advert
    import counter

    cfg = Timing(cfg, board)
    hw = hwmod.Hardware(board)
    saved = rtcstate.load(hw.load_rtc())
    woke = saved is not None and hw.woke_from_deep_sleep()
    # A "power-on" that finds our record in RTC memory was no power-on: the
    # supply sagged (a brownout) and RTC memory survived it.
    brownout = saved is not None and not woke and hw.power_on_reset() and bool(saved.flags & rtcstate.RUNNING)
    signer = ctr = evl = None
    if woke and saved is not None and saved.secret != bytes(32):
        # Deep-sleep wake: everything from RTC memory, nothing from flash.
        signer = advert.Signer(saved.secret)
        ctr = counter.Counter(counter.FileStore(counter.PATH), cfg.COUNTER_RESERVE, saved.ctr_next, saved.ctr_limit)
        # the log key is read from flash at the log's first write, after the advert
        evl = evlog.Log(None, saved.device_id, cfg.LOG_SEGMENTS, cfg.LOG_SEG_RECORDS, hw.report)
    elif not woke:
        import keyfile

        try:
            ident = keyfile.load()
            if ident is not None:
                ctr = counter.Counter(counter.FileStore(counter.PATH), cfg.COUNTER_RESERVE)
                signer = advert.Signer(ident[0])
                saved = saved or rtcstate.Record()
                saved.secret, saved.device_id = ident[0], ident[1]
                hw.report("device", "".join("%02x" % b for b in ident[1]))
                if ident[2] is not None:
                    evl = evlog.Log(ident[2], ident[1], cfg.LOG_SEGMENTS, cfg.LOG_SEG_RECORDS, hw.report)
        except ValueError as e:  # damaged key or counter file: never guess
            hw.report("storage", str(e).replace(" ", "_"))
            signer = ctr = evl = None
    run(hw, cfg, signer, ctr, saved, woke, brownout, evl)
