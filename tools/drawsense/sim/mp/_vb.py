# Virtual board core. Runs inside the MicroPython unix port, ahead of the
# firmware on MICROPYPATH, and is shared by the strict fakes machine.py,
# bluetooth.py, time.py and esp32.py.
#
# Virtual time: nothing moves the clock but sleeps (and boot costs), so the
# firmware's own code takes zero virtual time and every run of a scenario is
# identical. The sensor follows the scenario's timeline of (t_us, out) edges;
# a pin IRQ fires at the virtual instant of each electrical edge. The radio is
# recorded as individual advertising events: T_advEvent = advInterval +
# advDelay, advDelay pseudo-random in 0..10 ms (Bluetooth Core 5.x, Vol 6,
# Part B, 4.4.2.2.1).
#
# Output: one line per happening on stdout, "@vb <json>", interleaved in order
# with whatever the firmware prints. "t" is virtual microseconds.
import gc
import json
import os
import struct

import micropython

MASK = 0x3FFFFFFF  # ticks wrap at 2**30 as on 32-bit boards
INF = 1 << 62

def _load():
    path = os.getenv("DRAWSENSE_VB_TIMELINE")
    if not path:
        raise SystemExit("virtual board: DRAWSENSE_VB_TIMELINE is not set (run through drawsense sim)")
    with open(path) as f:
        return json.load(f)


_tl = _load()
contract = _tl.get("contract") or {}


def _const(name, default):
    c = contract.get(name)
    return c[5] if c is not None and c[0] == "const" else default


# machine constants as the board's port defines them (its contract): rp2's
# PULL_UP is 1 where esp32's is 2, its IRQ_RISING 8 where esp32's is 1.
IN = _const("machine.Pin.IN", 1)
OUT = _const("machine.Pin.OUT", 3)
OPEN_DRAIN = _const("machine.Pin.OPEN_DRAIN", 7)
PULL_DOWN = _const("machine.Pin.PULL_DOWN", 1)
PULL_UP = _const("machine.Pin.PULL_UP", 2)
IRQ_RISING = _const("machine.Pin.IRQ_RISING", 1)
IRQ_FALLING = _const("machine.Pin.IRQ_FALLING", 2)
PWRON_RESET = _const("machine.PWRON_RESET", 1)
HARD_RESET = _const("machine.HARD_RESET", 2)
WDT_RESET = _const("machine.WDT_RESET", 3)
DEEPSLEEP_RESET = _const("machine.DEEPSLEEP_RESET", 4)
SOFT_RESET = _const("machine.SOFT_RESET", 5)


class Reset(BaseException):
    # Unwinds the firmware to vboot, which starts main again (a reboot).
    def __init__(self, cause):
        self.cause = cause


class Stop(BaseException):
    # The scenario is over.
    pass


class Brownout(BaseException):
    # The cell sagged below the board's brown-out level under the radio's
    # load: the chip resets, RTC memory survives, reset_cause says power-on.
    pass


class PowerCut(BaseException):
    # Power fails in the middle of a flash write: RAM and RTC memory are
    # lost, the flash keeps whatever the interrupted write left.
    pass


import board  # noqa: E402  (the board definition the firmware also imports)

end_us = _tl["duration_us"]
_battery = _tl["battery"]
sensor_out = bool(_tl["initial_out"])

# Edges are streamed from a file of int64 LE microsecond times (levels
# alternate from initial_out), so a long capture costs the heap nothing.
_edge_f = open(os.getenv("DRAWSENSE_VB_EDGES"), "rb")
_edge_buf = bytearray(8)
_edge_t = INF  # time of the next edge not yet applied


def _next_edge():
    global _edge_t
    _edge_t = struct.unpack("<q", _edge_buf)[0] if _edge_f.readinto(_edge_buf) == 8 else INF


_next_edge()
# Ticks start this far before a wrap-around, so every scenario longer than
# a few seconds crosses the 2**30 wrap and proves the firmware is wrap-safe.
tick_off_ms = (MASK + 1 - int(_tl.get("wrap_after_ms", 2000))) & MASK
_seed = (int(_tl.get("seed", 1)) * 2654435761 + 1) & 0xFFFFFFFF or 1
_seed_rng = (int(_tl.get("seed", 1)) * 40503 + 977) & 0xFFFFFFFF or 1
_heap_probe = os.getenv("DRAWSENSE_VB_HEAP") == "1"

now_us = 0
reset_cause = PWRON_RESET
rtc_memory = b""
boots = 0

# Pins: id -> state dict. The sensor pin's electrical level comes from the
# switch (closed while holstered) and the pull the firmware configured.
pins = {}

# Radio
ble_active = False
adv_on = False
adv_interval_us = 0
adv_data = b""
adv_next = INF
addr = b""

# Watchdog
wdt_timeout_us = 0
wdt_deadline = INF

# Deep-sleep wake sources set through esp32.wake_on_* : (pin ids, level)
deep_wake = None

# Flash: a littlefs2 volume on a block device backed by a host file (the
# board's flash chip; off the MicroPython heap), mounted at /flash and made
# the current directory, as the board's filesystem. The host keeps the file
# from run to run when it wants the device to keep its counter, can seed
# files before first power-on, and can cut power at the Nth write.
FLASH_BLOCK = 4096
FLASH_BLOCKS = 64
_seed_dir = os.getenv("DRAWSENSE_VB_FILES") or ""
# drawsense board serve: the board's filesystem is a host folder, mounted at
# "/" by serve (no littlefs image), and the event lines go to a file, since
# the console belongs to mpremote.
_root = os.getenv("DRAWSENSE_VB_ROOT") or ""
# ... and virtual time follows the wall clock, with the sensor and battery
# set from a control file while it runs (drawsense board poke).
_realtime = os.getenv("DRAWSENSE_VB_REALTIME") == "1"
_control = os.getenv("DRAWSENSE_VB_CONTROL") or ""
_battery_override = 0
if _realtime:
    import uselect as select  # the built-in (zephyr boards have a fake "select" on the path)
    import utime  # the built-in clock (the fake time module shadows "time")

    _wall0 = utime.ticks_ms()
    _poller = select.poll()
    # the host's own filesystem, whatever the board's "/" is mounted as
    _host_fs = os.VfsPosix()
_ev_path = os.getenv("DRAWSENSE_VB_EVENTS") or ""
_events = open(_ev_path, "a") if _ev_path else None
_cut_at = int(os.getenv("DRAWSENSE_VB_CUT_AT") or "0")


class Flash:
    def __init__(self, path):
        size = FLASH_BLOCK * FLASH_BLOCKS
        try:
            if os.stat(path)[6] != size:
                raise OSError(22)
        except OSError:
            with open(path, "wb") as f:  # a blank (erased) chip
                blank = b"\xff" * FLASH_BLOCK
                for _ in range(FLASH_BLOCKS):
                    f.write(blank)
        self.f = open(path, "r+b")
        self.ops = 0  # program + erase operations by the firmware so far
        self.armed = False  # formatting and seeding (the factory) don't count
        self.reads = 0  # block reads since this boot's mount

    def readblocks(self, block, buf, off=0):
        self.reads += 1
        self.f.seek(block * FLASH_BLOCK + off)
        self.f.readinto(buf)

    def _op(self, a, new, erase=False):
        self.f.seek(a)
        if not self.armed:
            self.f.write(new)
            return 0
        if fault_due("flash"):
            # the chip refuses the write: littlefs gets LFS_ERR_IO and the
            # firmware an OSError(EIO); the block keeps what it had
            return -5
        self.ops += 1
        stats["flash_ops"] = self.ops
        if _flash_op_us and not _in_engine:
            # the chip is busy with the write: time passes, IRQs fire
            t0 = now_us
            _run(now_us + _flash_op_us, AWAKE)
            stats["awake_us"] += now_us - t0
        if erase:
            stats["flash_erases"] += 1  # (what drawsense power prices)
        else:
            stats["flash_prog_bytes"] += len(new)
        if self.ops == _cut_at:
            self.f.write(new[:len(new) // 2])  # torn: power went mid-write
            self.f.flush()
            raise PowerCut()
        self.f.write(new)
        return 0

    def writeblocks(self, block, buf, off=None):
        return self._op(block * FLASH_BLOCK + (off or 0), bytes(buf))

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return FLASH_BLOCKS
        if op == 5:  # block size
            return FLASH_BLOCK
        if op == 6:  # erase
            return self._op(arg * FLASH_BLOCK, b"\xff" * FLASH_BLOCK, True)
        return 0


# Injected faults (the timeline's "faults": [kind, at_us] pairs), each
# happening once, at the first chance from at_us on: "flash" (a flash write
# the chip refuses), "radio" (gap_advertise raises, as when the controller
# stops answering), "hang" (the firmware's next wait never returns: a loop
# stuck in code, which only a watchdog ends).
_faults = [[k, int(t), False] for k, t in (_tl.get("faults") or [])]
# Virtual time each flash program or erase takes (the timeline's
# "flash_op_us"; 0, the default: none, as all the firmware's own code), for
# what a slow flash write does to whatever happens meanwhile.
_flash_op_us = int(_tl.get("flash_op_us", 0))


def fault_due(kind):
    for f in _faults:
        if f[0] == kind and not f[2] and now_us >= f[1]:
            f[2] = True
            stats["faults_injected"] += 1
            emit("inject", fault=kind)
            return True
    return False


flash = Flash(os.getenv("DRAWSENSE_VB_FLASH"))
_mounted = False


def mount_flash():
    global _mounted
    if _root:
        flash.reads = 0
        return
    if _mounted:
        os.umount("/flash")
        _mounted = False
    try:
        os.mount(os.VfsLfs2(flash), "/flash")
    except OSError:
        os.VfsLfs2.mkfs(flash)  # a blank chip: format, as the port does
        os.mount(os.VfsLfs2(flash), "/flash")
    _mounted = True
    os.chdir("/flash")
    flash.reads = 0


def _seed_files():
    # Files provisioned before first power-on (the key file and the
    # counter's first mark): a factory step, so never over a file the device
    # already has (a flash image kept from an earlier run).
    for name in os.listdir(_seed_dir) if _seed_dir else ():
        try:
            os.stat("/flash/" + name)
            continue
        except OSError:
            pass
        with open(_seed_dir + "/" + name, "rb") as src:
            data = src.read()
        with open("/flash/" + name, "wb") as dst:
            dst.write(data)
    flash.armed = True


def save_flash():
    flash.f.flush()


stats = {"awake_us": 0, "light_us": 0, "deep_us": 0, "radio_us": 0, "adverts": 0, "wakeups": 0, "irqs": 0,
         "irqs_lost": 0, "irq_storms": 0, "pull_uc": 0.0, "faults_injected": 0,
         "peak_heap": 0, "boot_heap": 0, "boots": 0,
         "flash_ops": 0, "power_cuts": 0, "brownouts": 0, "flash_erases": 0, "flash_prog_bytes": 0}
_radio_since = 0


def emit(kind, **fields):
    fields["type"] = kind
    fields["t"] = now_us
    if _events is None:
        print("@vb", json.dumps(fields))
    else:
        _events.write("@vb " + json.dumps(fields) + "\n")
        _events.flush()


def _xorshift(x):
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    return x ^ ((x << 5) & 0xFFFFFFFF)


def rng32():
    # a seed for the firmware's random module at each boot, from its own
    # stream (so the radio's advDelay sequence is the same as without it)
    global _seed_rng
    _seed_rng = _xorshift(_seed_rng)
    return _seed_rng


def _rand():
    # xorshift32: the radio's advDelay, independent of the firmware's random
    global _seed
    _seed = _xorshift(_seed)
    return _seed


# -- clocks ----------------------------------------------------------------
# ticks_ms restarts from 0 at every boot, deep-sleep wake included
# (ports/esp32/mphalport.c mp_hal_ticks_ms: esp_timer_get_time()/1000, and
# esp_timer starts at 0 with the chip; rp2 likewise after every reset).
# Either way it starts `tick_off_ms` before its 2**30 wrap, so every run
# crosses the wrap. time_ns() reads the RTC (mphalport.c mp_hal_time_ns:
# gettimeofday), which keeps counting through deep sleep on the chip's slow
# clock and so drifts by board.RTC_DRIFT_PPM while asleep.
boot_us = 0  # true time of the latest boot
radio_used = False  # BLE brought up since this boot (Pico W: GP29 is the radio's)
adc_calibrated = bool(_tl.get("adc_calibrated", True))  # esp32 eFuse ADC calibration
rtc_off_us = 0  # RTC reading minus true time


def _ticks_base_us():
    # every port's tick counter starts from 0 with the chip: esp32
    # (esp_timer), rp2 (ports/rp2/main.c), zephyr (k_uptime)
    return boot_us


def ticks_us_now():
    _catch_up()
    if _realtime:
        # a served board's ticks are the interpreter's own, which C code
        # reads too (extmod/modasyncio.c: mp_hal_ticks_ms for task times)
        return utime.ticks_us()
    return now_us - _ticks_base_us() + tick_off_ms * 1000


def ticks_ms():
    if _realtime:
        _catch_up()
        return utime.ticks_ms()
    return ((ticks_us_now()) // 1000) & MASK


# The RTC in microseconds since the port's epoch. esp32: 2000-01-01, and it
# keeps counting through resets and deep sleep (set once, here to
# 2025-12-01). rp2: 1970-01-01 (MICROPY_EPOCH_IS_1970), and every boot sets
# it to 2021-01-01 (ports/rp2/main.c).
_RP2 = board.PORT == "rp2"
EPOCH_YEAR = 1970 if _RP2 else 2000


def _rtc_base_us():
    if _RP2:
        return 1609459200 * 1000000 + now_us - boot_us
    if _realtime:
        # served: the RTC counts on from the served board's power-on
        # (DRAWSENSE_VB_RTC0_US, host us), through resets and at the REPL, as
        # the chip's does (each reset is a new interpreter here, whose virtual
        # time starts again). Read here, not kept in a new module global: the
        # heap tests count this module's dict.
        rtc0 = os.getenv("DRAWSENSE_VB_RTC0_US")
        if rtc0:
            return 817776000 * 1000000 + utime.time_ns() // 1000 - int(rtc0)
    return 817776000 * 1000000 + now_us


def rtc_us():
    _catch_up()
    return _rtc_base_us() + rtc_off_us


def set_rtc_us(us):
    # machine.RTC().datetime(...): the RTC reads `us` from now on
    global rtc_off_us
    _catch_up()
    rtc_off_us = us - _rtc_base_us()


_drop_mv = int(_tl.get("battery_drop_mv", 150))


def battery_mv():
    # The cell at rest, as the scenario (or a poke) gives it.
    if _battery_override:
        return _battery_override
    mv = _battery[0][1]
    for t, v in _battery:
        if t > now_us:
            break
        mv = v
    return mv


def cell_mv():
    # What the board sees: the resting voltage, less the droop of the cell's
    # internal resistance while the radio draws (scenario battery_drop_mv).
    return battery_mv() - (_drop_mv if adv_on else 0)


def _check_brownout():
    if adv_on and cell_mv() < board.BROWNOUT_MV:
        raise Brownout()


def pin_state(pid):
    st = pins.get(pid)
    if st is None:
        # level_trig: a level interrupt type left on the pin by an esp32
        # light sleep's gpio_wakeup_enable (None: the edge type pin.irq set)
        st = {"mode": None, "pull": None, "out": 0, "handler": None, "trigger": 0, "hard": False, "obj": None,
              "wake": None, "level_trig": None}
        pins[pid] = st
    return st


# -- the sensor front-end ------------------------------------------------
# sensor_out is the physical truth (the gun out of the holster), moved by
# the scenario. What reaches the pin depends on the board's front-end:
# "reed": a switch closed while holstered, tying the line to HOLSTERED_LEVEL;
#   open, only the pull decides (no pull: the input floats and reads noise).
# "hall": a push-pull nano-power Hall switch (TI DRV5032) that samples the
#   field every SENSOR_SAMPLE_MS on its own clock and drives the line both
#   ways from its latched output, whatever the pull.
_hall = getattr(board, "SENSOR_FRONTEND", "reed") == "hall"
_sample_us = getattr(board, "SENSOR_SAMPLE_MS", 0) * 1000
_phase_us = (int(_tl.get("seed", 1)) * 7919 * 1000) % _sample_us if _sample_us else 0
fe_out = sensor_out  # the Hall switch's latched output (out = no magnet)
fe_next = INF  # next sample instant at which that output would change


def sensor_level(pull_up, pull_down):
    out = fe_out if _hall else sensor_out
    if not out:
        return board.HOLSTERED_LEVEL
    if _hall:
        return 1 - board.HOLSTERED_LEVEL
    # an open reed: only the pull holds the line (none: it floats, noise)
    if pull_up:
        return 1
    if pull_down:
        return 0
    return (now_us >> 7) & 1


def pin_level(pid):
    st = pin_state(pid)
    if pid == board.SENSOR_PIN:
        return sensor_level(st["pull"] == PULL_UP, st["pull"] == PULL_DOWN)
    return st["out"]


def _pull_ua():
    """Current through the sensor pin's pull resistor now: a pull toward one
    rail while the front-end holds the line at the other (a closed reed
    against a pull-up, or a push-pull output against a pull-down)."""
    st = pins.get(board.SENSOR_PIN)
    pull = st["pull"] if st is not None else None
    if pull is None:
        return 0.0
    if not _hall and sensor_out:
        return 0.0  # an open reed: nothing holds the line against the pull
    level = sensor_level(pull == PULL_UP, pull == PULL_DOWN)
    if (pull == PULL_UP and level == 0) or (pull == PULL_DOWN and level == 1):
        return board.IO_MV / board.PULL_KOHM  # mV / kohm = uA
    return 0.0


def unique_id():
    # 6 bytes, fixed per scenario seed: what machine.unique_id() gives.
    return bytes(((int(_tl.get("seed", 1)) * 7919 + i * 104729) >> 3) & 0xFF for i in range(6))


# -- interrupts ----------------------------------------------------------
# A hard IRQ (rp2, the virtual board) runs its handler at the edge, under
# heap_lock (on a board an allocation there is a crash). A soft IRQ (every
# esp32 pin IRQ: ports/esp32/machine_pin.c machine_pin_isr_handler calls
# mp_sched_schedule) is queued on the scheduler, SCHED_DEPTH deep
# (MICROPY_SCHEDULER_DEPTH, ports/esp32/mpconfigport.h), and runs at the next
# scheduler point: at once while the firmware waits in time.sleep_ms or
# ble.active (both run mp_handle_pending while they wait), only after
# lightsleep() returns when the edge came during a light sleep. An edge that
# finds the queue full is lost, and the run says so.
# zephyr: MICROPY_SCHEDULER_DEPTH's default, 4 (py/mpconfig.h; ports/zephyr
# does not set it).
SCHED_DEPTH = 4 if board.PORT == "zephyr" else 8
_sched = []
_lost = 0


def _isr(pid, level):
    """The pin's interrupt fires (the line is at `level` now)."""
    st = pins.get(pid)
    if st is None or st["handler"] is None:
        return False
    trig = IRQ_RISING if level else IRQ_FALLING
    if not st["trigger"] & trig:
        return False
    stats["irqs"] += 1
    if st["hard"]:
        micropython.heap_lock()
        try:
            st["handler"](st["obj"])
        finally:
            micropython.heap_unlock()
    else:
        _schedule(st["handler"], st["obj"])
    return True


def _schedule(handler, obj):
    global _lost, _signalled
    if len(_sched) >= SCHED_DEPTH:
        _lost += 1
        stats["irqs_lost"] += 1
        return
    _sched.append((handler, obj))
    # MICROPY_SCHED_HOOK_SCHEDULED (zephyr: mp_hal_signal_event): what ends
    # a wait_event
    _signalled += 1


_signalled = 0
_wfe = False  # a wait_event is under way: a scheduled callback ends it


_in_handler = False
_storming = False


def run_pending():
    """A scheduler point: run the queued soft-IRQ handlers, oldest first
    (never inside one another: the scheduler is locked while one runs)."""
    global _lost, _in_handler
    if _lost:
        emit("irq_lost", n=_lost, depth=SCHED_DEPTH)
        _lost = 0
    if _in_handler:
        return
    _in_handler = True
    try:
        while _sched:
            handler, obj = _sched.pop(0)
            handler(obj)
    finally:
        _in_handler = False


def _storm_check():
    """After an esp32 light sleep with a GPIO wake source, ESP-IDF's
    gpio_wakeup_enable (ports/esp32/modmachine.c machine_sleep_helper) has
    left that pin's interrupt level-triggered, and nothing sets it back but
    another pin.irq() call (machine_pin.c machine_pin_irq: gpio_set_intr_type).
    While the level holds the interrupt fires again as soon as it returns:
    the scheduler queue is full, the rest are lost and the main task starves
    until the level changes."""
    global _storming
    for pid, st in pins.items():
        lv = st["level_trig"]
        if lv is None or pin_level(pid) != lv:
            continue
        stats["irq_storms"] += 1
        emit("irq_storm", pin=pid, level=lv, handler=st["handler"] is not None)
        t0 = now_us
        _storming = True
        try:
            _hold_storm(pid, st, lv)
        finally:
            _storming = False
            stats["awake_us"] += now_us - t0


def _hold_storm(pid, st, lv):
    while pin_level(pid) == lv and now_us < end_us:
        if st["handler"] is not None:
            for _ in range(SCHED_DEPTH + 1):
                _schedule(st["handler"], st["obj"])
            run_pending()
        # starved until the line next moves (an edge, or a sample)
        _run(min(_edge_t, fe_next, end_us), AWAKE)


# -- the time engine -----------------------------------------------------
# One engine moves virtual time for every way the chip waits: AWAKE
# (time.sleep_*, ble.active, boot), LIGHT (machine.lightsleep) and DEEP
# (machine.deepsleep). It stops at the next sensor edge, front-end sample,
# advertising event or watchdog deadline; on a served board it also follows
# the wall clock and the control file.
AWAKE = 0
LIGHT = 1
DEEP = 2
_in_engine = False
_light_wake_pins = ()  # esp32: the GPIO wake source of the light sleep under way


repl = False  # a served board's boot is over: its REPL runs (serve's boot script sets it)


def _heap_locked():
    # code under micropython.heap_lock() (asyncio's own tests do it) may read
    # the clock, which allocates nothing on a board: catch up later then
    try:
        [0]
    except MemoryError:
        return True
    return False


def _catch_up():
    """Real time only: code that runs without sleeping still moves the clock
    (a busy loop on ticks_ms sees it advance); every fake that reads or sets
    the time calls this first."""
    if _realtime and not _in_engine:
        wall = utime.ticks_diff(utime.ticks_ms(), _wall0) * 1000
        if wall > now_us and not _heap_locked():
            try:
                _run(min(wall, end_us - 1), AWAKE)
            except Reset as r:
                if repl:  # a watchdog at the REPL: serve powers on a new interpreter
                    raise SystemExit(0xC0 | r.cause)
                raise


def _account(t, mode):
    # charge through the pull, RTC drift while asleep
    global rtc_off_us
    dt = t - now_us
    if dt <= 0:
        return
    ua = _pull_ua()
    if ua:
        stats["pull_uc"] += ua * dt / 1000000
    if mode != AWAKE and board.RTC_DRIFT_PPM:
        # the slow clock runs fast by RTC_DRIFT_PPM: the RTC gains
        rtc_off_us += dt * board.RTC_DRIFT_PPM // 1000000


def _wake_met(mode):
    """Does the line now satisfy the wake source of this sleep?"""
    if mode == DEEP or board.PORT == "esp32":
        if mode == LIGHT and not _light_wake_pins:
            return False
        if deep_wake is None:
            return False
        pids, level = deep_wake
        return any(pin_level(p) == level for p in pids)
    return False


def _line_moved(pid, before, mode):
    """The line at `pid` may have changed level: interrupts and wake-ups.
    True if it ends a light or deep sleep."""
    after = pin_level(pid)
    if after == before:
        return False
    if mode == DEEP:
        return _wake_met(DEEP)
    if mode == LIGHT and board.PORT == "esp32":
        # the CPU is stopped: no ISR runs; only a GPIO wake source ends the sleep
        return _wake_met(LIGHT)
    sig = _signalled
    fired = _isr(pid, after)
    if mode == AWAKE:
        run_pending()
        if pins[pid]["level_trig"] is not None and not _storming:
            _storm_check()  # the level interrupt a light sleep left is still there
        return _wfe and _signalled != sig
    return fired  # rp2 / virtual light sleep: an armed pin IRQ wakes the chip


_line_spans = _tl.get("line_spans") or []


def _on_line():
    # the edge is the line's own (a chatter span, a capture): no front-end
    for a, b in _line_spans:
        if a <= now_us < b:
            return True
    return False


def _magnet(out, mode):
    """The scenario moves the sensor."""
    global sensor_out, fe_next, fe_out
    pid = board.SENSOR_PIN
    before = pin_level(pid)
    sensor_out = out
    if _hall and _on_line():
        fe_out = out
        fe_next = INF
        emit("pin", out=out, level=pin_level(pid))
        return _line_moved(pid, before, mode)
    emit("pin", out=out, level=pin_level(pid))
    if _hall:
        # the output follows at the next sample instant, if the field is still there
        if out != fe_out:
            k = (now_us - _phase_us) // _sample_us + 1
            fe_next = _phase_us + k * _sample_us
        else:
            fe_next = INF
        return False
    return _line_moved(pid, before, mode)


def _sample(mode):
    """The Hall switch samples the field and updates its output."""
    global fe_out, fe_next
    fe_next = INF
    pid = board.SENSOR_PIN
    before = pin_level(pid)
    fe_out = sensor_out
    emit("line", out=fe_out, level=pin_level(pid))
    return _line_moved(pid, before, mode)


def _run(target_us, mode):
    """Move virtual time to target_us. True if the sensor pin ended a light
    or deep sleep early."""
    global now_us, _in_engine
    if target_us < now_us:
        target_us = now_us
    was = _in_engine
    _in_engine = True
    try:
        if mode != AWAKE and _wake_met(mode):
            return True  # a wake level already present wakes at once
        while True:
            t_adv = adv_next if adv_on and mode != DEEP else INF
            t_wdt = wdt_deadline if mode != DEEP else INF
            t = min(_edge_t, fe_next, t_adv, t_wdt, target_us, end_us)
            if _realtime:
                poke = _pace(t)
                if poke is not None:
                    _account(poke[0], mode)
                    now_us = poke[0]
                    if _magnet(poke[1], mode):
                        return True
                    continue
            _account(t, mode)
            now_us = t
            if t == t_adv:
                _check_brownout()
                _radio_event()
            elif t == _edge_t:
                _next_edge()
                if _magnet(not sensor_out, mode):
                    return True
            elif t == fe_next:
                if _sample(mode):
                    return True
            elif t == t_wdt:
                emit("wdt", timeout_ms=wdt_timeout_us // 1000)
                raise Reset(WDT_RESET)
            elif t == end_us:
                raise Stop()
            else:
                return False
    finally:
        _in_engine = was


def _radio_event():
    global adv_next
    stats["adverts"] += 1
    emit("adv", addr=addr_hex(), data=_hex(adv_data), interval_us=adv_interval_us, rssi=-60)
    adv_next = now_us + adv_interval_us + (_rand() % 10001)


def _hex(b):
    return "".join("%02x" % x for x in b)


def addr_hex():
    return ":".join("%02x" % x for x in addr)


def _poked():
    """Real time: the sensor state the control file asks for, if it differs
    (battery changes are applied on the spot); else None."""
    global _battery_override
    try:
        with _host_fs.open(_control, "r") as f:
            want = json.loads(f.read())
    except (OSError, ValueError):
        return None
    mv = want.get("battery_mv")
    if mv:
        _battery_override = int(mv)
    out = want.get("sensor")
    if out in ("in", "out") and (out == "out") != sensor_out:
        return out == "out"
    return None


def _pace(t):
    """Real time: wait on the wall clock until virtual time t, looking at the
    control file every 50 ms. Returns (when, out) for a poked sensor change,
    else None."""
    while True:
        wall = utime.ticks_diff(utime.ticks_ms(), _wall0) * 1000
        out = _poked() if _control else None
        if out is not None:
            return (max(now_us, min(wall, t)), out)
        if wall >= t:
            return None
        _poller.poll(min(50, (t - wall) // 1000 + 1))


def _hang():
    # stuck in code: time runs, awake, until a watchdog resets the chip (or
    # the run ends: without one, the device never comes back)
    t0 = now_us
    try:
        _run(INF, AWAKE)
    finally:
        stats["awake_us"] += now_us - t0


def sleep_awake(us):
    # time.sleep_*: the CPU idles awake; IRQs run, the sleep does not end early.
    _catch_up()
    if fault_due("hang"):
        _hang()
    probe_in()
    t0 = now_us
    try:
        _run(now_us + us, AWAKE)
    finally:
        stats["awake_us"] += now_us - t0
    probe_out()


def sleep_idle(us):
    # zephyr time.sleep/sleep_ms: mp_hal_wait_event(false, NULL, ms) blocks in
    # k_poll and Zephyr's idle thread sleeps the CPU (System ON) with RAM, the
    # pin IRQs and the BLE link layer running (ports/zephyr/mphalport.c). A
    # scheduled callback (a soft pin IRQ) wakes the k_poll and runs at once,
    # but the sleep does not end early (exit_on_event false). Counted as
    # light_us: the board's power.toml prices it at its idle current.
    _idle(us, False)


def wait_event(us):
    # zephyr MICROPY_INTERNAL_WFE: mp_hal_wait_event(true, NULL, ms), as
    # select.poll waits: as sleep_idle, but a scheduled callback (signalled
    # by mp_sched_schedule) ends it. us None: no timeout.
    emit("sleep", mode="idle", ms=None if us is None else us // 1000)
    woke = _idle(end_us - now_us if us is None else us, True)
    stats["wakeups"] += 1
    emit("wake", cause="pin" if woke else "timer", slept_us=now_us - _idle_t0, tick_base_us=boot_us)
    return woke


_idle_t0 = 0


def _idle(us, exit_on_event):
    global _wfe, _idle_t0
    _catch_up()
    if fault_due("hang"):
        _hang()
    # The nRF WDT pauses while the CPU sleeps (WDT_OPT_PAUSE_IN_SLEEP,
    # ports/zephyr/machine_wdt.c): its deadline moves on by the idle time.
    global wdt_deadline
    probe_in()
    t0 = now_us
    _idle_t0 = t0
    left = wdt_deadline - now_us
    wdt_deadline = INF
    _wfe = exit_on_event
    try:
        woke = _run(now_us + us, AWAKE)
    finally:
        _wfe = False
        stats["light_us"] += now_us - t0
        if wdt_timeout_us and wdt_deadline == INF:
            wdt_deadline = now_us + left  # not fed meanwhile: what was left
    probe_out()
    return woke


def _slow_clock_us(us):
    """True time of a sleep timed by the slow clock: it counts `us` of RTC
    time, which runs fast by RTC_DRIFT_PPM, so the RTC (same clock, same
    calibration) says exactly `us` when it ends."""
    return us * 1000000 // (1000000 + board.RTC_DRIFT_PPM)


def lightsleep(us):
    # machine.lightsleep. esp32: only a GPIO wake source (esp32.wake_on_gpio)
    # ends it early, and it leaves those pins level-triggered; rp2 and the
    # virtual board: an armed pin IRQ wakes the chip.
    global _light_wake_pins, boot_us
    probe_in()
    t0 = now_us
    _catch_up()
    if fault_due("hang"):
        _hang()
    emit("sleep", mode="light", ms=us // 1000)
    _light_wake_pins = deep_wake[0] if board.PORT == "esp32" and deep_wake is not None else ()
    rtc0 = rtc_off_us
    try:
        woke = _run(now_us + _slow_clock_us(us), LIGHT)
    finally:
        stats["light_us"] += now_us - t0
    if board.PORT == "esp32":
        # esp_light_sleep_start moves esp_timer (ticks_ms) on by the sleep
        # as the RTC measured it
        boot_us -= rtc_off_us - rtc0
    stats["wakeups"] += 1
    # tick_base_us: ticks_ms = (t - tick_base_us) // 1000 + tick_off_ms from here on
    emit("wake", cause="pin" if woke else "timer", slept_us=now_us - t0, tick_base_us=boot_us)
    for pid in _light_wake_pins:
        pin_state(pid)["level_trig"] = deep_wake[1]
    _light_wake_pins = ()
    probe_out()
    run_pending()  # soft IRQs queued during the sleep run once it returns
    _storm_check()
    return woke


def deepsleep(us):
    # Everything but RTC memory is lost; the firmware restarts from main.
    _catch_up()
    probe_in()
    _radio_off()
    _sched[:] = []
    t0 = now_us
    emit("sleep", mode="deep", ms=us // 1000 if us else None)
    if board.PORT == "esp32" and deep_wake is not None:
        # ESP-IDF's gpio_deep_sleep_wakeup_prepare (esp_hw_support/
        # sleep_modes.c) replaces the pin's pull: pull-down for a HIGH wake,
        # pull-up for a LOW wake (no MicroPython board sets
        # CONFIG_ESP_SLEEP_GPIO_ENABLE_INTERNAL_RESISTORS=n).
        for pid in deep_wake[0]:
            pin_state(pid)["pull"] = PULL_DOWN if deep_wake[1] else PULL_UP
    target = now_us + _slow_clock_us(us) if us is not None else INF
    try:
        while True:
            try:
                woke = _run(target, DEEP)
                break
            except KeyboardInterrupt:
                # a served board: the chip is off and so is its console; a
                # ^C typed now reaches nothing (what else is typed waits)
                pass
    finally:
        stats["deep_us"] += now_us - t0
    stats["wakeups"] += 1
    emit("wake", cause="pin" if woke else "timer", slept_us=now_us - t0)
    # rp2's deepsleep is light sleep, then a reset through the watchdog
    raise Reset(WDT_RESET if board.PORT == "rp2" else DEEPSLEEP_RESET)


def _radio_off():
    global adv_on, adv_next
    if adv_on:
        stats["radio_us"] += now_us - _radio_since
        emit("radio", on=False)
    adv_on = False
    adv_next = INF


def radio_start(interval_us, data):
    global adv_on, adv_interval_us, adv_data, adv_next, _radio_since
    if fault_due("radio"):
        raise OSError(116)  # ETIMEDOUT: the controller did not answer
    probe_in()
    if not adv_on:
        _radio_since = now_us
    adv_on = True
    adv_interval_us = interval_us
    adv_data = data
    # flash_reads: blocks the firmware read since this boot (0 = no
    # filesystem work on the way to this advert)
    emit("radio", on=True, interval_us=interval_us, data=_hex(data), flash_reads=flash.reads)
    adv_next = now_us + (_rand() % 10001)
    probe_out()


def radio_stop():
    probe_in()
    _radio_off()
    probe_out()


_heap_base = 0
_ballast = None


def give_heap():
    """Hold on to the heap beyond DRAWSENSE_VB_HEAPSIZE bytes, once the fakes
    are in: the interpreter was started with room for them on top (on a
    board they are C), and the firmware finds what a board has free."""
    global _ballast
    want = int(os.getenv("DRAWSENSE_VB_HEAPSIZE") or "0")
    if not want or _ballast is not None:
        return
    for name in ("machine", "time", "bluetooth", "esp32"):
        try:
            __import__(name)
        except ImportError:
            pass
    gc.collect()
    spare = gc.mem_free() - want
    _ballast = []
    while spare > 256:
        n = min(spare - 64, 16384)
        try:
            _ballast.append(bytearray(n))
        except MemoryError:
            break
        gc.collect()
        spare = gc.mem_free() - want


def heap_base():
    # Called before main is imported: the virtual board's own share of the
    # heap, left out of the firmware's figure.
    global _heap_base
    if _heap_probe:
        gc.collect()
        _heap_base = gc.mem_alloc()


def probe_in():
    # Firmware heap high-water mark (probe mode only). Called as control
    # passes from the firmware into the board: in use now is the firmware's
    # live data plus its garbage since the board last handed control back
    # (probe_out collects the board's own garbage). The first sample also
    # holds what compiling and importing the firmware left: kept apart.
    if _heap_probe:
        if not _heap_base:
            return  # still booting: nothing of the firmware's is on the heap yet
        used = gc.mem_alloc() - _heap_base
        if not stats["boot_heap"]:
            stats["boot_heap"] = used
        elif used > stats["peak_heap"]:
            stats["peak_heap"] = used


def probe_out():
    if _heap_probe:
        gc.collect()


def wdt_start(timeout_ms):
    global wdt_timeout_us, wdt_deadline
    _catch_up()
    wdt_timeout_us = timeout_ms * 1000
    wdt_deadline = now_us + wdt_timeout_us


def wdt_feed():
    global wdt_deadline
    _catch_up()
    if wdt_timeout_us:
        wdt_deadline = now_us + wdt_timeout_us


def boot():
    # Called by vboot before main runs: power-on or a reset.
    global pins, ble_active, adv_on, adv_next, wdt_timeout_us, wdt_deadline, deep_wake, boots, addr
    global boot_us, radio_used, rtc_off_us
    boots += 1
    boot_us = now_us
    if _RP2:
        rtc_off_us = 0  # main.c sets the RTC at every boot
    radio_used = False
    _sched[:] = []
    stats["boots"] = boots
    pins = {}
    ble_active = False
    adv_on = False
    adv_next = INF
    wdt_timeout_us = 0
    wdt_deadline = INF
    if reset_cause != SOFT_RESET:  # esp32 machine_rtc_config is .data: a soft reset keeps it
        deep_wake = None
    addr = bytes(unique_id())  # the controller's public address
    if board.PORT == "zephyr":
        # no public address on the nRF52840: Zephyr takes the static random
        # identity from FICR DEVICEADDR (top two bits set), the same every boot
        identity_address()
        drop_conn_records()  # RAM does not survive a reset
    mount_flash()
    # in this boot ticks_ms = ((t - tick_base_us) // 1000 + tick_off_ms) mod 2**30
    emit("boot", cause=reset_cause, board=board.NAME, tick_off_ms=tick_off_ms, tick_base_us=_ticks_base_us(),
         boot_ms=board.BOOT_MS)


def new_random_address():
    # A random static address: the two top bits set (Core Vol 6, Part B, 1.3.2.1).
    global addr
    b = bytearray(6)
    for i in range(6):
        b[i] = _rand() & 0xFF
    b[0] |= 0xC0
    addr = bytes(b)


def identity_address():
    # zephyr, stock: BT_LE_ADV_OPT_USE_IDENTITY, the static random identity
    global addr
    addr = bytes([unique_id()[0] | 0xC0]) + bytes(unique_id())[1:]


def new_nrpa():
    # A non-resolvable private address: the two top bits clear, the rest
    # random, neither all 0 nor all 1 (Core Vol 6, Part B, 1.3.2.2).
    global addr
    while True:
        b = bytearray(6)
        for i in range(6):
            b[i] = _rand() & 0xFF
        b[0] &= 0x3F
        if any(b[1:]) or b[0]:
            if not (b[0] == 0x3F and all(x == 0xFF for x in b[1:])):
                break
    addr = bytes(b)


# zephyr: the connection records gap_advertise allocates on the MicroPython
# heap and keeps reachable (objs_list, a root pointer) until active(False)
# (ports/zephyr/modbluetooth_zephyr.c: mp_bluetooth_gap_advertise_start,
# mp_bluetooth_deinit).
conn_records = []


def drop_conn_records():
    global conn_records
    conn_records = []  # a new list, as mp_bluetooth_init allocates a new objs_list


def brownout():
    # Called by vboot: the chip restarts as at power-on, RTC memory kept.
    global reset_cause
    stats["brownouts"] += 1
    _radio_off()
    reset_cause = PWRON_RESET
    emit("brownout", cell_mv=cell_mv())


def power_cut():
    # Called by vboot: power comes back at once; RAM and RTC memory are gone.
    global rtc_memory, reset_cause
    stats["power_cuts"] += 1
    _radio_off()
    rtc_memory = b""
    reset_cause = PWRON_RESET
    emit("power", cut=True, flash_op=flash.ops)


def finish():
    save_flash()
    if adv_on:
        stats["radio_us"] += now_us - _radio_since
    emit("end", **stats)


# -- the port contract ---------------------------------------------------
# What each hardware name accepts on this board's port, read from the port's
# C source (tools/drawsense/sim/ports/<port>.toml, cited per entry) and
# handed over in the timeline (`contract`): name -> [kind, positional names,
# required count, keyword names, varargs, value]. Every fake checks its call
# against it the way mp_arg_parse_all / mp_arg_check_num do, so a fake
# accepts exactly what the port accepts.


def has(name):
    c = contract.get(name)
    return c is not None and c[0] != "absent"


def bind(name, a, kw):
    """The call's arguments by name, as the port's C would take them, or the
    TypeError (AttributeError for a name the port lacks) that it raises."""
    c = contract.get(name)
    if c is None or c[0] == "absent":
        raise AttributeError("'%s' isn't on the %s port" % (name, board.PORT))
    pos, need, kws, var = c[1], c[2], c[3], c[4]
    if kw and not kws:
        raise TypeError("function doesn't take keyword arguments")
    if len(a) > len(pos) and not var:
        if not kws:
            raise TypeError("function expected at most %d arguments, got %d" % (len(pos), len(a)))
        raise TypeError("extra positional arguments given")
    out = {}
    for i, v in enumerate(a[:len(pos)]):
        out[pos[i]] = v
    anykw = "**" in kws  # the C ignores every keyword (bluetooth.BLE())
    for k, v in kw.items():
        if anykw:
            continue
        if k not in kws or k in out:
            raise TypeError("extra keyword arguments given")  # py/argcheck.c mp_arg_parse_all
        out[k] = v
    for k in pos[:need]:
        if k not in out:
            if not kws:
                raise TypeError("function missing %d required positional arguments" % (need - len(a)))
            raise TypeError("'%s' argument required" % k)
    return out
