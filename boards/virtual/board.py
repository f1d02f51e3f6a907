# The virtual board: an idealised board with no chip personality, for trying
# the firmware's logic on the MicroPython unix port (drawsense sim --board
# virtual). Its figures are round numbers chosen for clarity, not a product.

NAME = "virtual"
TITLE = "Virtual board (MicroPython unix port, idealised radio)"
PORT = "virtual"
CHIP = "none"

SENSOR_PIN = 0
SENSOR_PULL = "up"
HOLSTERED_LEVEL = 0
WAKE = "irq"
SENSOR_FRONTEND = "reed"
SENSOR_PART = "normally-open reed switch to GND (idealised)"
SENSOR_SAMPLE_MS = 0
SENSOR_POLL_MS = 0
# Idealised front-end: the reed's pull is a 10 Mohm external resistor (the
# chip's own pulls off), so a closed reed draws 0.3 uA, not the ~67 uA an
# internal ~45 kohm pull-up would.
PULL_KOHM = 10000
IO_MV = 3000
RTC_DRIFT_PPM = 0

# The 20 ms floor every Bluetooth 5 controller accepts (Core 5.x, Vol 6,
# Part B, 4.4.2.2), so the virtual board is no faster than a real one.
ADV_MIN_INTERVAL_US = 20000
BLE_ACTIVATE_MS = 0

BOOT_MS = 50
BATTERY_ADC_PIN = 1
BATTERY_DIVIDER_NUM = 2
BATTERY_DIVIDER_DEN = 1
BATTERY_LOW_MV = 2500
BATTERY_CLEAR_MV = 2950
BROWNOUT_MV = 2000

# No watchdog: the idealised board light-sleeps up to an hour at a time.
WDT_MS = 0

MPY_ARCH = "host"
STUBS = ""

# Event log ring (firmware/evlog.py): the virtual board's flash is 64 blocks
# of 4 KiB (sim/mp/_vb.py); the log takes 16 of them: 2,032 events.
LOG_SEGMENTS = 16
