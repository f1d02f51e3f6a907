# drawsense bench: the firmware's self-test report. Sent with `mpremote
# exec`, then the host's call line "report()". MicroPython only.
# Prints selftest.report()'s JSON line, or DS-NOFW when the device has no
# drawsense firmware (no selftest module).


def report():
    try:
        import selftest
    except ImportError:
        print('DS-NOFW')
    else:
        selftest.report()
