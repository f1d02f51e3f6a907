"""A real board on the bench (or a served virtual one), through mpremote.

    remote.py     runs mpremote: one place for its errors and timeouts
    mp/           the code that runs on the board (MicroPython modules: probe,
                  file hashes, key state and swap, the bench report), sent
                  with mpremote exec by mpcode.py, which adds the call line
    checks.py     type-check (MicroPython stubs) and compile (mpy-cross) the
                  firmware for a board
    deploy.py     copy what changed, verify by hash, reset
    provision.py  a device's key onto the board and into the key store, never
                  half-done
    bench.py      the firmware's self-test, a TEST burst, and its verified
                  reception
"""
