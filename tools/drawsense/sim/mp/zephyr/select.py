# Strict fake of select.poll on the zephyr port, in virtual time. Only the
# poll object with objects that are not file descriptors (an io.IOBase with
# ioctl), which is what a board has; this directory is on MICROPYPATH only
# for zephyr boards.
#
# extmod/modselect.c poll_set_poll_until_ready_or_timeout (no POSIX
# optimisations on zephyr): mp_handle_pending, then loop { ask every object's
# ioctl(MP_STREAM_POLL); return if any is ready or the timeout has passed;
# mp_event_wait_ms(remaining) }. mp_event_wait_ms runs pending callbacks,
# then MICROPY_INTERNAL_WFE = mp_hal_wait_event(true, NULL, ms)
# (ports/zephyr/mphalport.h): k_poll with the CPU idle, ended early when
# mp_sched_schedule signals (a soft pin IRQ). Here that wait is
# _vb.wait_event: the soft IRQ's handler runs at the edge and the wait ends;
# on the board it runs at the next pending check, which the poll loop's
# mp_event_handle_nowait or the ioctl's first branch (vm.c: the pending
# check after every jump opcode) reaches before the object is asked again,
# so the object sees what the handler did either way.
import _vb

POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16
_MP_STREAM_POLL = 3


class _Poll:
    def __init__(self):
        self._objs = []

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        for e in self._objs:
            if e[0] is obj:
                e[1] = eventmask
                return
        self._objs.append([obj, eventmask])

    def modify(self, obj, eventmask):
        for e in self._objs:
            if e[0] is obj:
                e[1] = eventmask
                return
        raise OSError(2)  # ENOENT: poll_modify

    def unregister(self, obj):
        self._objs = [e for e in self._objs if e[0] is not obj]

    def _ready(self):
        out = []
        for obj, mask in self._objs:
            r = obj.ioctl(_MP_STREAM_POLL, mask | POLLERR | POLLHUP)
            if r:
                out.append((obj, r))
        return out

    def poll(self, timeout=-1):
        if type(timeout) is not int:
            raise TypeError("can't convert %s to int" % type(timeout).__name__)
        _vb.run_pending()
        t0 = _vb.now_us
        while True:
            ready = self._ready()
            elapsed = (_vb.now_us - t0) // 1000
            if ready or (timeout >= 0 and elapsed >= timeout):
                return ready
            _vb.wait_event(None if timeout < 0 else (timeout - elapsed) * 1000)


def poll(*a, **kw):
    _vb.bind("select.poll", a, kw)
    return _Poll()
