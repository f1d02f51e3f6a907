# nRF52840 board definition: a Raytac MDBT50Q-1MV2 module (nRF52840; a
# Nordic-listed third-party module, sold by Raytac and distributors) on the
# product PCB with a 32.768 kHz crystal and the DC/DC regulator on, running
# MicroPython's zephyr port (ports/zephyr) with Bluetooth. Sources, open
# points and the build: docs/nrf52840.md.
#
# This file is copied to the board as board.py and imported by the firmware;
# the host tools read the same literals with ast (no code runs on the host).
# Every figure that is not a wiring choice names its source.

NAME = "nrf52840"
TITLE = "nRF52840 (Raytac MDBT50Q-1MV2, MicroPython zephyr port, patched advertiser), Bluetooth 5 LE"
PORT = "zephyr"
CHIP = "nrf52840"

# Sensor: a TI DRV5032FA nano-power Hall switch (push-pull, omnipolar,
# 4.8 mT, samples the field at 20 Hz on its own oscillator, 1.6 uA at 3 V;
# datasheet SLVSDC7E), as on the esp32c3 board, on P0.03; the magnet in the
# holster. Why not a reed: a reed to GND needs a pull-up that flows all the
# time the gun is holstered; the nRF52840's internal pull is ~13 kohm
# (230 uA at 3 V) and even an external 1 Mohm draws 3 uA, as much as the
# whole chip idling (3.16 uA, power.toml). The DRV5032 drives the line both
# ways (no pull, nothing flows) for 1.6 uA, and its 1.65-5.5 V supply range
# covers a coin cell down to the nRF52840's own 1.7 V.
# Pin ids on the zephyr port are (GPIO device node label, pin) tuples
# (ports/zephyr/machine_pin.c mp_pin_make_new): P0.03 is ("gpio0", 3). Its
# edges go through the GPIO PORT/SENSE mechanism, not a GPIOTE IN channel
# (~2 uA against ~20 uA idle, docs/nrf52840.md): the build's overlay puts
# the pin in &gpio0's sense-edge-mask.
SENSOR_PIN = ("gpio0", 3)
SENSOR_PULL = "none"
SENSOR_FRONTEND = "hall"
SENSOR_PART = "TI DRV5032FA (push-pull, 20 Hz)"
SENSOR_SAMPLE_MS = 50
HOLSTERED_LEVEL = 0
# Two samples in a row "out" make a draw (> one 50 ms period), as esp32c3.
DRAW_CONFIRM_MS = 60
# While a debounce is pending the firmware waits in time.sleep_ms slices of
# this length and reads the pin (the CPU idles meanwhile: System ON).
SENSOR_POLL_MS = 25
# No pull is set; the nRF52840's internal pull resistors are ~13 kohm
# (nRF52840 PS, GPIO "RPU/RPD" 11-16 kohm, typ. 13; UNVERIFIED figure, only
# used if a pull were set); the I/O supply is the cell itself.
PULL_KOHM = 13
IO_MV = 3000
# ticks_ms is k_uptime_get(): the RTC on the 32.768 kHz crystal (+-20 ppm
# for a typical tuning-fork crystal; estimate until the part is chosen).
RTC_DRIFT_PPM = 20
# No light or deep sleep on the zephyr port: the firmware waits in
# time.sleep_ms (k_poll: the idle thread sleeps the CPU, System ON) and the
# pin IRQ wakes it (hw.py).
WAKE = "idle"

# Legacy non-connectable adverts: 20 ms minimum (interval_us // 625 >= 0x20,
# Zephyr subsys/bluetooth/host/adv.c valid_adv_ext_param: zephyr.toml
# behaviour.gap_advertise_payload).
ADV_MIN_INTERVAL_US = 20000

# The port's advertiser (zephyr.toml behaviour.ble_identity_address,
# gap_advertise_alloc): a STOCK build advertises every time from the chip's
# fixed identity address (BT_LE_ADV_OPT_USE_IDENTITY on every start), so a
# scanner can follow the sensor from burst to burst, and every gap_advertise
# start allocates a connection record that stays on the heap until
# active(False). The product carries a small port patch
# (patches/0001-zephyr-non-connectable-adverts-from-a-fresh-NRPA.patch;
# docs/nrf52840.md, "Advertiser patch"): for connectable=False, start
# WITHOUT BT_LE_ADV_OPT_USE_IDENTITY (Zephyr then takes a fresh
# non-resolvable private address at every bt_le_adv_start) and skip the
# connection record. True models the patched build (the product); False the
# stock one (tests/sim/test_zephyr_board.py runs both).
ZEPHYR_ADV_PATCH = True

# ble.active(True): bt_enable, once per boot, synchronous (zephyr.toml
# behaviour.ble_active). Estimate until measured; never on the draw path.
BLE_ACTIVATE_MS = 100

# Reset to main running (Zephyr init, bt_enable not included). Not on the
# draw path: the chip never sleeps deeper than System ON, so a draw meets a
# running firmware. Estimate until measured.
BOOT_MS = 300

# Battery sense: the SAADC's VDD input (NRF_SAADC_VDD), which on a chip fed
# straight from the cell IS the cell: no divider, no current. Channel 0 of
# &adc, gain 1/6 against the 0.6 V internal reference (0-3.6 V), listed in
# zephyr,user io-channels by the build's overlay (docs/nrf52840.md, 5). On
# the zephyr port an ADC id is an (adc device, channel) tuple.
BATTERY_ADC_PIN = ("adc", 0)
BATTERY_DIVIDER_NUM = 1
BATTERY_DIVIDER_DEN = 1
# The nRF52840 runs down to 1.7 V (VDD 1.7-3.6 V, docs/nrf52840.md 2); the
# DRV5032 to 1.65 V. The low flag is raised with margin over the CR2032's
# 2.0 V end-point; a brown-out is the chip's own floor.
BATTERY_LOW_MV = 2200
BATTERY_CLEAR_MV = 2900
BROWNOUT_MV = 1700

# Watchdog (machine.WDT, nRF WDT): it pauses while the CPU sleeps
# (WDT_OPT_PAUSE_IN_SLEEP, zephyr.toml behaviour.wdt), so it counts only
# the time the firmware runs; a hang resets the chip within 30 s of it.
WDT_MS = 30000

# Cortex-M4F. No stubs: the PyPI MicroPython stubs are for the nrf port
# (micropython-nrf-stubs), whose machine.Pin takes int ids; type-checking
# against them would be wrong for the zephyr port.
MPY_ARCH = "armv7emsp"
STUBS = ""

# Event log ring (firmware/evlog.py): LOG_SEGMENTS 4 KiB segments of 127
# events. The zephyr port mounts littlefs on the devicetree's `storage`
# partition (ports/zephyr/README.md, FlashArea). Zephyr's default nRF52840
# layout makes it 32 KiB (dts/vendor/nordic/nrf52840_partition.dtsi at zephyr
# 7c341bcf); this board's app.overlay drops MCUboot and the second image slot
# and gives storage 256 KiB (code keeps 768 KiB). The log takes 224 KiB of
# it, leaving 32 KiB for littlefs's own blocks and the key and counter files:
# 56 segments, 7,112 events, about a year at 10 draws a day (drawsense power).
LOG_SEGMENTS = 56
