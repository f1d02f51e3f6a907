# Raspberry Pi Pico W board definition (MicroPython's RPI_PICO_W firmware;
# RP2040 with an Infineon CYW43439 radio, Bluetooth 5.2 LE via btstack).
#
# This file is copied to the board as board.py and imported by the firmware;
# the host tools read the same literals with ast (no code runs on the host).

NAME = "picow"
TITLE = "Raspberry Pi Pico W (RPI_PICO_W), Bluetooth 5.2 LE"
PORT = "rp2"
CHIP = "rp2040"

# Sensor: reed switch from GP15 (pin 20) to GND, internal pull-up, so the
# line reads 0 holstered and 1 drawn. Any GPIO can interrupt on the RP2040.
SENSOR_PIN = 15
SENSOR_PULL = "up"
HOLSTERED_LEVEL = 0
# rp2 has no deep sleep that keeps RAM; machine.deepsleep() is lightsleep
# then reset (shared/REFERENCE.md, sleep facts). Wake comes from the pin IRQ.
WAKE = "irq"
SENSOR_FRONTEND = "reed"
SENSOR_PART = "normally-open reed switch to GND"
SENSOR_SAMPLE_MS = 0
SENSOR_POLL_MS = 0
# RP2040 datasheet, GPIO electrical characteristics: pull-up 50-80 kohm.
PULL_KOHM = 50
IO_MV = 3300
# rp2 has no deep sleep; its RTC is set from the crystal (no drift modelled).
RTC_DRIFT_PPM = 0

# CYW43439 is a Bluetooth 5.2 controller (Infineon CYW43439 datasheet, p.1);
# Bluetooth Core 5.x, Vol 6, Part B, 4.4.2.2 allows 20 ms for legacy
# non-connectable and scannable adverts.
ADV_MIN_INTERVAL_US = 20000

# btstack power-up of the CYW43 radio; order of 100s of ms (not yet measured
# by us: an estimate to be replaced by a bench figure).
BLE_ACTIVATE_MS = 300

# rp2 has no deep sleep that keeps state; the firmware light-sleeps. Reset
# to main running (filesystem modules; an estimate until measured).
BOOT_MS = 200

# Battery sense: none. The board's VSYS/3 divider is on GP29 (ADC3), which
# on the Pico W is also the CYW43 radio's SPI clock: read while the radio is
# in use it gives ~0 V (micropython#10406), which would set the low-battery
# flag on every advert. The firmware reports battery 0 mV (unknown) instead;
# a product would put a switched divider on GP26-28.
BATTERY_ADC_PIN = -1
VSYS_SENSE_PIN = 29  # wired on the board (VSYS/3), unusable beside the radio
BATTERY_DIVIDER_NUM = 3
BATTERY_DIVIDER_DEN = 1
BATTERY_LOW_MV = 2400
BATTERY_CLEAR_MV = 2950
BROWNOUT_MV = 1800

# Watchdog: off on this development board. rp2's cannot be stopped once
# started, nor set past 8388 ms (ports/rp2/machine_wdt.c), so it would
# reset the board within 8 s of the bench stopping the firmware with ^C.
# A field build sets WDT_MS = 8000: rp2's watchdog counts through
# lightsleep (ports/rp2/modmachine.c mp_machine_lightsleep keeps it active),
# so the firmware then light-sleeps at most 4 s at a time and feeds it once
# a loop pass; a hang resets the board within 8 s (tests/firmware/test_recovery.py
# runs that build).
WDT_MS = 0

MPY_ARCH = "armv6m"
STUBS = "micropython-rp2-rpi_pico_w-stubs==1.29.0.post1"

# Event log ring (firmware/evlog.py): LOG_SEGMENTS 4 KiB segments of 127
# events. RPI_PICO_W's filesystem is 848 KiB
# (ports/rp2/boards/RPI_PICO_W/mpconfigboard.cmake
# MICROPY_HW_FLASH_STORAGE_BYTES, MicroPython 1c3c201); the log takes
# 256 KiB of it: 8,128 events, ~1.1 years at 10 draws a day.
LOG_SEGMENTS = 64
