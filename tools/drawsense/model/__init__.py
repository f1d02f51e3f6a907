"""Battery life, from what the firmware really does.

    power.py      prices a simulated run (sim.vboard) with the board's sourced
                  power profile (boards/NAME/power.toml)
    cell.py       the coin cell: capacity, voltage under load, end of life
"""
