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

# Sensor: a TI DRV5032FA nano-power Hall switch (push-pull output, omnipolar,
# 4.8 mT, samples the field at 20 Hz on its own oscillator; 1.6 uA at 3 V;
# datasheet SLVSDC7E, device comparison table and features) on GPIO3, the
# magnet in the holster. The output is driven low while the field is there
# (holstered) and high once the gun is out. Push-pull drives the line both
# ways, so no pull resistor is needed and none is set: ESP-IDF's deep-sleep
# pull swap (gpio_deep_sleep_wakeup_prepare turns on the pull-down for a HIGH
# wake and the pull-up for a LOW wake) then only ever pulls the line toward
# the level the sensor already drives it to, which costs nothing and still
# lets the sensor wake the chip in both directions. (A reed to GND with the
# internal pull-up fails both ways: the swapped-in pull-down keeps an open
# reed low, so a draw never wakes the chip, and a closed reed draws
# 3.3 V / 45 kohm = ~73 uA all the time the gun is holstered.)
# GPIO3 is one of GPIO0-5, the only pins esp32.wake_on_gpio() can use for
# deep-sleep wake on the C3 (ports/esp32/modmachine.c machine_sleep_helper:
# esp_deep_sleep_enable_gpio_wakeup; ESP32-C3 TRM, "Low-power management").
SENSOR_PIN = 3
SENSOR_PULL = "none"
SENSOR_FRONTEND = "hall"
SENSOR_PART = "TI DRV5032FA (push-pull, 20 Hz)"
# The output updates once per sampling period: up to 50 ms before a draw
# reaches the pin, and never a pulse shorter than 50 ms.
SENSOR_SAMPLE_MS = 50
HOLSTERED_LEVEL = 0
# A draw counts once two samples in a row read "out" (> one 50 ms period):
# a shock that moves the magnet for one sample is a single 50 ms pulse, and
# must not make a draw (the default 30 ms is for a reed switch's bounce).
DRAW_CONFIRM_MS = 60
# While a debounce or a fault is pending the chip light-sleeps on its timer
# and reads the pin every SENSOR_POLL_MS (half a sampling period, so no
# sample is missed). It never light-sleeps with a GPIO wake source: on
# esp32, gpio_wakeup_enable leaves the pin's interrupt level-triggered after
# the sleep (ports/esp32/modmachine.c machine_sleep_helper; esp-idf#11686),
# and a handler on it then fires for as long as the level holds.
SENSOR_POLL_MS = 25
# Internal pull resistors: ~45 kohm (shared/REFERENCE.md); the I/O supply.
PULL_KOHM = 45
IO_MV = 3300
# The RTC (time.time_ns, the deep-sleep timer) runs on the internal
# ~136 kHz RC oscillator while asleep, whose frequency moves with
# temperature (ESP-IDF "System Time": RTC timer clock sources; ESP-IDF
# "Clock Tree": RC_SLOW ~136 kHz, calibrated at run time). Percent-level
# (shared/REFERENCE.md); 1 % fast here, an estimate until measured.
RTC_DRIFT_PPM = 10000
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
# into GPIO4 (ADC1 channel 4), read with ADC.read_uv() at 11 dB. Not GPIO2:
# GPIO2, GPIO8 and GPIO9 are the C3's strapping pins (datasheet, "Strapping
# Pins"), sampled at every reset and deep-sleep wake, and a divider holding
# GPIO2 at half the cell is neither a clean high nor a clean low. ADC1 only:
# GPIO5 (ADC2) is shared with the radio. read_uv() raises OSError on a chip
# without eFuse ADC calibration (ports/esp32/adc.c); the firmware then
# reports "battery uncalibrated" and sends 0 mV (unknown).
BATTERY_ADC_PIN = 4
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

# Watchdog (machine.WDT, esp_task_wdt: ports/esp32/machine_wdt.c), fed once
# per loop pass. The loop never waits awake or in light sleep for more than
# ~1 s here (SENSOR_POLL_MS naps, 5 ms naps during a burst), and deep sleep
# stops it with the chip; a hang resets the chip within 30 s. Stopped by the
# bench (^C), the firmware sets it to an hour (hw.stopped).
WDT_MS = 30000

MPY_ARCH = "rv32imc"
STUBS = "micropython-esp32-esp32_generic_c3-stubs==1.29.0.post1"

# Event log ring (firmware/evlog.py): LOG_SEGMENTS 4 KiB segments of 127
# events. ESP32_GENERIC_C3 on a 4 MiB chip gives the filesystem the 2 MiB
# past the 2 MiB app partition (ports/esp32/partitions-4MiBplus.csv, named by
# boards/sdkconfig.base, MicroPython 1c3c201); the log takes 512 KiB of it:
# 16,256 events, ~2.2 years at 10 draws a day (drawsense power).
LOG_SEGMENTS = 128
