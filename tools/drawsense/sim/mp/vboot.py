# Virtual board boot loop: runs main.py as a board does, and again after a
# reset or deep sleep (RTC memory kept, everything else fresh).
import gc
import random
import sys

import _vb

_KEEP = set(sys.modules) | {"_vb", "board", "vboot", "__main__"}


def _forget_firmware():
    # A reset empties the heap on a board; here the firmware's modules are
    # dropped and collected, so the next boot starts as clean as we can make it.
    for name in list(sys.modules):
        if name not in _KEEP and name not in ("machine", "time", "bluetooth", "esp32", "micropython", "random"):
            del sys.modules[name]
    gc.collect()


def main():
    _vb.give_heap()
    first = True
    while True:
        _vb.boot()
        if first:
            _vb._seed_files()
            first = False
        what = None
        # the chip's RNG seeds MicroPython's random module at boot
        # (esp_random / get_rand_32): here the virtual board's own xorshift,
        # from the scenario's seed, so a run repeats exactly (seeds that
        # differ by little start yasmarang alike: mix them first)
        random.seed(_vb.rng32() or 1)
        try:
            # Reset or wake to main running: the board's boot time, awake.
            _vb.sleep_awake(_vb.board.BOOT_MS * 1000)
            _vb.heap_base()
            __import__("main")
            # main returned: a board drops to the REPL and stays awake.
            _vb.emit("console", text="main.py returned; board idles at the REPL")
            _vb.sleep_awake(_vb.end_us - _vb.now_us)
        except _vb.Reset as r:
            what = r.cause
            r = None  # the exception holds the old firmware's frames
        except _vb.Brownout:
            what = "brownout"
        except _vb.PowerCut:
            what = "power"
        except _vb.Stop:
            _vb.finish()
            return
        except Exception as e:  # the firmware crashed: report it and fail
            sys.print_exception(e)
            _vb.emit("crash", error="%s: %s" % (type(e).__name__, e))
            _vb.finish()
            sys.exit(1)
        # Out of the except blocks, nothing refers to the old firmware any
        # more: drop it and collect, so each boot starts from a heap as clean
        # as a board's (a reset empties it there).
        if what == "brownout":
            _vb.brownout()
        elif what == "power":
            _vb.power_cut()
        else:
            _vb.reset_cause = what
            _vb.emit("reset", cause=what)
        _forget_firmware()

main()
