# The reset loop of a virtual board, shared by vboot.py (a simulated run)
# and serveboot.py (`drawsense board serve`): boot, run the firmware, and
# when it unwinds with a reset, a brown-out or a power cut, do to the board
# what the chip does, forget the firmware (a reset empties RAM) and boot
# again. Whatever else ends the firmware (the timeline's end, a crash, ^C,
# SystemExit) goes to the caller.
import gc
import sys

import _vb


def run(once, forget, start=None):
    # once(): one boot's firmware, from boot.py/main.py to wherever it stops;
    # its return ends the loop. forget(): drop the firmware (forget_modules).
    # start(): called once before the first boot, with this loop's own frame
    # already on the heap (vboot gives away the fakes' share of the heap
    # there, so what the firmware finds free is as without this loop).
    if start is not None:
        start()
    while True:
        _vb.boot()
        what = None
        try:
            once()
            return
        except _vb.Reset as r:
            what = r.cause
            r = None  # the exception holds the old firmware's frames
        except _vb.Brownout:
            what = "brownout"
        except _vb.PowerCut:
            what = "power"
        # Out of the except blocks nothing refers to the old firmware any
        # more, so forget() can drop it and collect, and each boot starts from
        # a heap as clean as a board's.
        if what == "brownout":
            _vb.brownout()
        elif what == "power":
            _vb.power_cut()
        else:
            _vb.reset_cause = what
            _vb.emit("reset", cause=what)
        forget()


def forget_modules(keep):
    # A reset empties the heap on a board; here every module not in `keep`
    # (the board's own: the fakes, the boot) is dropped and collected.
    for name in list(sys.modules):
        if name not in keep:
            del sys.modules[name]
    gc.collect()
