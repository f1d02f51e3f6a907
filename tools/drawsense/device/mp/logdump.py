# drawsense log: the event log's segment files, as they are, and the
# device's clock. Sent with `mpremote exec` after firmware/evlog.py's source
# (so `segments` and `name` below are the firmware's own), then the host's
# call line "dump()" (or "last()": the newest record's seq alone). MicroPython only. dump() prints:
#   DSCLOCK <rtc ms>          the RTC (time.time_ns) as the dump starts
#   DSSEG <n> <bytes>         then that segment file in DSHEX lines
#   DSHEX <hex, <= 256 bytes>
#   DSEND <segments>
# Nothing here holds a key: the log's bytes are MACed, not secret.
import binascii
import time


def dump():
    print('DSCLOCK', time.time_ns() // 1000000)
    nums = segments()  # noqa: F821 (firmware/evlog.py's, sent ahead of this)
    for n in nums:
        p = name(n)  # noqa: F821
        with open(p, 'rb') as f:
            data = f.read()
        print('DSSEG', n, len(data))
        for i in range(0, len(data), 256):
            print('DSHEX', binascii.hexlify(data[i:i + 256]).decode())
    print('DSEND', len(nums))


def last():
    # DSLAST <seq of the newest record, or -1>: where a clock reading sits in the log
    nums = segments()  # noqa: F821
    seq = -1
    if nums:
        with open(name(nums[-1]), 'rb') as f:  # noqa: F821
            data = f.read()
        if len(data) >= 64 and not len(data) % 32:
            seq = int.from_bytes(data[-32:-28], 'big')
    print('DSLAST', seq)
