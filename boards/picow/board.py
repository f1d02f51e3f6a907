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

# Battery sense: the board's own VSYS/3 divider into GP29 (ADC3)
# (Pico W datasheet, "Powering Pico W"); read_u16 scaled to 3.3 V.
BATTERY_ADC_PIN = 29
BATTERY_DIVIDER_NUM = 3
BATTERY_DIVIDER_DEN = 1
# The RT6154 buck-boost runs VSYS down to 1.8 V (datasheet), so the cell is
# flat long before the board browns out.
BATTERY_LOW_MV = 2400
BATTERY_CLEAR_MV = 2950
BROWNOUT_MV = 1800

MPY_ARCH = "armv6m"
STUBS = "micropython-rp2-rpi_pico_w-stubs==1.29.0.post1"
