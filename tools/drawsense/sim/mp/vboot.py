# Virtual board boot loop: runs main.py as a board does, and again after a
# reset or deep sleep (RTC memory kept, everything else fresh). The loop
# itself is _bootloop's, shared with a served board's boot (serveboot.py).
import random
import sys

import _bootloop
import _vb

_KEEP = set(sys.modules) | {"_vb", "board", "vboot", "__main__", "machine", "time", "bluetooth", "esp32",
                            "micropython", "random"}
_first = True


def _forget_firmware():
    # the firmware's modules are dropped and collected, so the next boot
    # starts as clean as we can make it
    _bootloop.forget_modules(_KEEP)


def _boot():
    global _first
    if _first:
        _vb._seed_files()
        _first = False
    # the chip's RNG seeds MicroPython's random module at boot
    # (esp_random / get_rand_32): here the virtual board's own xorshift,
    # from the scenario's seed, so a run repeats exactly (seeds that
    # differ by little start yasmarang alike: mix them first)
    random.seed(_vb.rng32() or 1)
    # Reset or wake to main running: the board's boot time, awake.
    _vb.sleep_awake(_vb.board.BOOT_MS * 1000)
    _vb.heap_base()
    __import__("main")
    # main returned: a board drops to the REPL and stays awake (until the
    # timeline ends: _vb.Stop).
    _vb.emit("console", text="main.py returned; board idles at the REPL")
    _vb.sleep_awake(_vb.end_us - _vb.now_us)


def main():
    try:
        _bootloop.run(_boot, _forget_firmware, _vb.give_heap)
    except _vb.Stop:
        _vb.finish()
        return
    except Exception as e:  # the firmware crashed: report it and fail
        sys.print_exception(e)
        _vb.emit("crash", error="%s: %s" % (type(e).__name__, e))
        _vb.finish()
        sys.exit(1)

main()
