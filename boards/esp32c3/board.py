# ESP32-C3 board definition (Espressif ESP32-C3-DevKitM-1, or any ESP32-C3
# module running MicroPython's ESP32_GENERIC_C3 firmware). Bluetooth 5 LE.
#
# This file is copied to the board as board.py and imported by the firmware;
# the host tools read the same literals with ast (no code runs on the host).
# Every figure that is not a wiring choice names its source.

NAME = "esp32c3"
TITLE = "ESP32-C3 (ESP32_GENERIC_C3), Bluetooth 5 LE"
PORT = "esp32"
CHIP = "esp32c3"

# Sensor: a normally-open reed switch (or open-drain Hall sensor) from GPIO3
# to GND, closed by the holster's magnet. The internal pull-up makes the line
# 0 while holstered and 1 once the gun is out. GPIO3 is one of GPIO0-5, the
# only pins esp32.wake_on_gpio() can use for deep-sleep wake on the C3
# (MicroPython docs, esp32 module; ESP32-C3 TRM ch. "Low-power management").
SENSOR_PIN = 3
SENSOR_PULL = "up"
HOLSTERED_LEVEL = 0
WAKE = "gpio"

# Fastest legal interval for a non-connectable legacy advert. MicroPython's
# connectable=False gives ADV_SCAN_IND on NimBLE; Bluetooth Core 5.x, Vol 6,
# Part B, 4.4.2.2 allows 20 ms for every legacy advertising type, and the
# C3's controller is Bluetooth 5 (ESP32-C3 datasheet, section 1).
ADV_MIN_INTERVAL_US = 20000

# ble.active(True) brings the controller up; ~200 ms on ESP32 parts
# (shared/REFERENCE.md, MicroPython BLE facts; to be measured on target).
# The firmware does this once at boot, never on the draw path.
BLE_ACTIVATE_MS = 200

# mpy-cross architecture and the MicroPython stubs the firmware is
# type-checked against for this board (PyPI, pinned).
# Wake from deep sleep to main running, with the firmware frozen into the
# image: ~50 ms measured on an ESP32-S3 (shared/REFERENCE.md; 635 ms with
# the modules on the filesystem). An estimate for the C3 until measured.
BOOT_MS = 50

# Battery sense: the cell through a 2:1 divider (2 x 1 Mohm: 1.5 uA at 3 V)
# into GPIO2 (ADC1 channel 2), read with ADC.read_uv() at 11 dB.
BATTERY_ADC_PIN = 2
BATTERY_DIVIDER_NUM = 2
BATTERY_DIVIDER_DEN = 1
# Low-battery flag: set when the cell measured right after a transmission is
# below BATTERY_LOW_MV, cleared only by a fresh cell at rest above
# BATTERY_CLEAR_MV. The C3 itself is rated 3.0-3.6 V (datasheet, 5.1), which a
# coin cell under 30 mA cannot hold; with the supply measures of
# docs/hardware.md (boost converter to 3.3 V, bulk capacitor) the board
# resets only when the cell under load falls below BROWNOUT_MV, the
# cell's own 2.0 V end-point.
BATTERY_LOW_MV = 2600
BATTERY_CLEAR_MV = 2950
BROWNOUT_MV = 2000

MPY_ARCH = "rv32imc"
STUBS = "micropython-esp32-esp32_generic_c3-stubs==1.29.0.post1"
