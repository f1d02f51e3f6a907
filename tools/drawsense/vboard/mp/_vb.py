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

# Constant values as on the esp32 port (machine.Pin / machine.*_RESET).
IN = 1
OUT = 3
OPEN_DRAIN = 7
PULL_DOWN = 1
PULL_UP = 2
IRQ_RISING = 1
IRQ_FALLING = 2
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


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


def _load():
    path = os.getenv("DRAWSENSE_VB_TIMELINE")
    if not path:
        raise SystemExit("virtual board: DRAWSENSE_VB_TIMELINE is not set (run through drawsense sim)")
    with open(path) as f:
        return json.load(f)


import board  # noqa: E402  (the board definition the firmware also imports)

_tl = _load()
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

random_addr_set = False  # btstack: one random static address per power cycle

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
    import select
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

    def _op(self, a, new):
        self.f.seek(a)
        if not self.armed:
            self.f.write(new)
            return
        self.ops += 1
        stats["flash_ops"] = self.ops
        if self.ops == _cut_at:
            self.f.write(new[:len(new) // 2])  # torn: power went mid-write
            self.f.flush()
            raise PowerCut()
        self.f.write(new)

    def writeblocks(self, block, buf, off=None):
        self._op(block * FLASH_BLOCK + (off or 0), bytes(buf))

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return FLASH_BLOCKS
        if op == 5:  # block size
            return FLASH_BLOCK
        if op == 6:  # erase
            self._op(arg * FLASH_BLOCK, b"\xff" * FLASH_BLOCK)
            return 0
        return 0


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
         "peak_heap": 0, "boot_heap": 0, "boots": 0,
         "flash_ops": 0, "power_cuts": 0, "brownouts": 0}
_radio_since = 0


def emit(kind, **fields):
    fields["type"] = kind
    fields["t"] = now_us
    if _events is None:
        print("@vb", json.dumps(fields))
    else:
        _events.write("@vb " + json.dumps(fields) + "\n")
        _events.flush()


def _rand():
    # xorshift32: the radio's advDelay, independent of the firmware's random
    global _seed
    x = _seed
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _seed = x
    return x


def ticks_ms():
    return (now_us // 1000 + tick_off_ms) & MASK


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
        st = {"mode": None, "pull": None, "out": 0, "handler": None, "trigger": 0, "hard": False, "obj": None,
              "wake": None}
        pins[pid] = st
    return st


def sensor_level(pull_up, pull_down):
    # Switch closed (holstered): the line is tied to HOLSTERED_LEVEL.
    # Switch open: only the pull decides; a floating input reads noise.
    if not sensor_out:
        return board.HOLSTERED_LEVEL
    if board.HOLSTERED_LEVEL == 0 and pull_up:
        return 1
    if board.HOLSTERED_LEVEL == 1 and pull_down:
        return 0
    return (now_us >> 7) & 1


def pin_level(pid):
    st = pin_state(pid)
    if pid == board.SENSOR_PIN:
        return sensor_level(st["pull"] == PULL_UP, st["pull"] == PULL_DOWN)
    return st["out"]


def unique_id():
    # 6 bytes, fixed per scenario seed: what machine.unique_id() gives.
    return bytes(((int(_tl.get("seed", 1)) * 7919 + i * 104729) >> 3) & 0xFF for i in range(6))


def _fire(pid, rising):
    st = pins.get(pid)
    if st is None or st["handler"] is None:
        return False
    trig = IRQ_RISING if rising else IRQ_FALLING
    if not st["trigger"] & trig:
        return False
    stats["irqs"] += 1
    handler = st["handler"]
    obj = st["obj"]
    if st["hard"]:
        # A hard IRQ may not allocate: on a board that is a crash, here it is
        # a MemoryError naming the handler.
        micropython.heap_lock()
        try:
            handler(obj)
        finally:
            micropython.heap_unlock()
    else:
        handler(obj)
    return True


def _sensor_edge(out):
    global sensor_out
    pid = board.SENSOR_PIN
    before = pin_level(pid)
    sensor_out = out
    after = pin_level(pid)
    emit("pin", out=out, level=after)
    if before != after:
        return _fire(pid, after == 1)
    return False


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


def advance(target_us, wake_on_pin):
    """Move virtual time to target_us, firing IRQs and radio events on the way.

    Returns True if an armed pin IRQ woke us early (light sleep)."""
    global now_us
    if target_us < now_us:
        target_us = now_us
    while True:
        t_edge = _edge_t
        t_adv = adv_next if adv_on else INF
        t = min(t_edge, t_adv, wdt_deadline, target_us, end_us)
        if _realtime:
            poke = _pace(t)
            if poke is not None:
                now_us = poke[0]
                fired = _sensor_edge(poke[1])
                if wake_on_pin and (_wake_level_met() if board.PORT == "esp32" else fired):
                    return True
                continue
        now_us = t
        if t == t_adv:
            _check_brownout()
            _radio_event()
            continue
        if t == t_edge:
            _next_edge()
            fired = _sensor_edge(not sensor_out)
            if wake_on_pin and (_wake_level_met() if board.PORT == "esp32" else fired):
                return True
            continue
        if t == wdt_deadline:
            emit("wdt", timeout_ms=wdt_timeout_us // 1000)
            raise Reset(WDT_RESET)
        if t == end_us:
            raise Stop()
        return False


def sleep_awake(us):
    # time.sleep_*: the CPU idles awake; IRQs run, the sleep does not end early.
    probe_in()
    t0 = now_us
    try:
        advance(now_us + us, False)
    finally:
        stats["awake_us"] += now_us - t0
    probe_out()


def lightsleep(us):
    # machine.lightsleep: on esp32 a configured wake source (esp32.wake_on_*)
    # ends it; on rp2 and the virtual board an armed pin IRQ does.
    probe_in()
    t0 = now_us
    emit("sleep", mode="light", ms=us // 1000)
    try:
        woke = advance(now_us + us, True)
    finally:
        stats["light_us"] += now_us - t0
    stats["wakeups"] += 1
    emit("wake", cause="pin" if woke else "timer", slept_us=now_us - t0)
    probe_out()
    return woke


def deepsleep(us):
    # Everything but RTC memory is lost; the firmware restarts from main.
    probe_in()
    _radio_off()
    t0 = now_us
    emit("sleep", mode="deep", ms=us // 1000 if us else None)
    try:
        _deep_wait(now_us + us if us else INF)
    finally:
        stats["deep_us"] += now_us - t0
    # rp2's deepsleep is light sleep, then a reset through the watchdog
    raise Reset(WDT_RESET if board.PORT == "rp2" else DEEPSLEEP_RESET)


def _wake_level_met():
    # esp32 light sleep ends on a pin only through a configured wake source
    # (esp32.wake_on_gpio / ext0 / ext1), not because a Pin.irq is armed.
    if deep_wake is None:
        return False
    pids, level = deep_wake
    return any(pin_level(p) == level for p in pids)


def _deep_wait(target_us):
    # Wake on the timer or on a wake_on_* level of the sensor pin. Radio is
    # off, IRQs are off; pin edges still move the line.
    global now_us, sensor_out
    while True:
        if deep_wake is not None:
            pids, level = deep_wake
            if any(pin_level(p) == level for p in pids):
                emit("wake", cause="pin", slept_us=0)
                return
        t_edge = _edge_t
        t = min(t_edge, target_us, end_us)
        now_us = t
        if t == t_edge:
            _next_edge()
            sensor_out = not sensor_out
            emit("pin", out=sensor_out, level=pin_level(board.SENSOR_PIN))
            continue
        if t == end_us:
            raise Stop()
        emit("wake", cause="timer", slept_us=0)
        return


def _radio_off():
    global adv_on, adv_next
    if adv_on:
        stats["radio_us"] += now_us - _radio_since
        emit("radio", on=False)
    adv_on = False
    adv_next = INF


def radio_start(interval_us, data):
    global adv_on, adv_interval_us, adv_data, adv_next, _radio_since
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
    wdt_timeout_us = timeout_ms * 1000
    wdt_deadline = now_us + wdt_timeout_us


def wdt_feed():
    global wdt_deadline
    if wdt_timeout_us:
        wdt_deadline = now_us + wdt_timeout_us


def boot():
    # Called by vboot before main runs: power-on or a reset.
    global pins, ble_active, adv_on, adv_next, wdt_timeout_us, wdt_deadline, deep_wake, boots, addr
    global random_addr_set
    boots += 1
    random_addr_set = False
    stats["boots"] = boots
    pins = {}
    ble_active = False
    adv_on = False
    adv_next = INF
    wdt_timeout_us = 0
    wdt_deadline = INF
    deep_wake = None
    addr = bytes(unique_id())  # the controller's public address
    mount_flash()
    emit("boot", cause=reset_cause, board=board.NAME, tick_off_ms=tick_off_ms, boot_ms=board.BOOT_MS)


def new_random_address():
    # A random static address: the two top bits set (Core Vol 6, Part B, 1.3.2.1).
    global addr
    b = bytearray(6)
    for i in range(6):
        b[i] = _rand() & 0xFF
    b[0] |= 0xC0
    addr = bytes(b)


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
