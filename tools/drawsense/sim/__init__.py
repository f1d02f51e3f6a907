"""The sensor without a board: pin -> firmware -> radio, in virtual time.

    scenario.py   the sensor line: built-in scenarios (scenarios/*.toml), your
                  .toml, or a logic-analyser capture -> timed edges
    capture.py    reads captures as sigrok-cli, PulseView and Saleae Logic
                  write them (CSV forms, .sr session files)
    vboard.py     runs the unmodified firmware under MicroPython with the
                  fakes in mp/ ahead of the built-ins, the line following the
                  scenario; returns a read-only SimResult
    mp/           the virtual board itself (MicroPython): strict fakes of
                  machine, bluetooth, time, esp32 (_vb.py is their engine);
                  _bootloop.py, the power-on/reset loop around main.py, which
                  vboot.py (simulations) and serveboot.py (the served board,
                  with its REPL and filesystem) both run
    ports.py      what each port's C accepts (ports/<port>.toml, cited), which
                  the fakes enforce and the firmware scan checks
    events.py     the schema of what a run is made of (pin, state, burst, adv...)
    timeline.py   a run as text, JSON lines or VCD, and its headline figures
    serve.py      the same virtual board behind a pty, for unmodified mpremote
"""
