# Battery state from the cell's voltage: pure logic, no ADC here.


class Battery:
    """Latching low-battery flag with hysteresis that never flaps.

    The flag sets when the voltage measured right after a transmission (the
    cell under load, which is what browns the device out) falls below
    low_mv, and clears only when the voltage at rest rises above clear_mv,
    well above anything a tired cell recovers to (i.e. a fresh cell).
    """

    def __init__(self, low_mv, clear_mv, low=False, rest_mv=0):
        self.low_mv = low_mv
        self.clear_mv = clear_mv
        self.low = low
        self.rest_mv = rest_mv  # last reading at rest (what adverts report)
        self.loaded_mv = 0  # last reading under load (0: none yet)

    def at_rest(self, mv):
        if mv:
            self.rest_mv = mv
            if self.low and mv >= self.clear_mv:
                self.low = False

    def loaded(self, mv):
        """A reading right after a transmission (0: unknown, as from hw.battery_mv)."""
        self.loaded_mv = mv
        if mv and mv < self.low_mv:
            self.low = True
