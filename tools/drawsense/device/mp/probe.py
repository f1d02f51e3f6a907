# drawsense deploy, step 1: what the device is. Sent with `mpremote exec`
# (source, then the host's call line "probe()"); MicroPython only.
# Prints one line: DSPROBE {"name", "version": [x, y, z], "mpy", "platform",
# "board": board.NAME or null, "board_error": "Type: text" or null}.
import sys
import json


def probe():
    i = sys.implementation
    r = {'name': i.name, 'version': list(i.version[:3]), 'mpy': getattr(i, '_mpy', None),
         'platform': sys.platform, 'board': None, 'board_error': None}
    # The board module is imported afresh (one imported earlier, e.g. by a
    # virtual board's hardware fakes, is put back afterwards), so the answer
    # is what the filesystem or the frozen image holds.
    old = sys.modules.pop('board', None)
    try:
        import board
        r['board'] = board.NAME
    except ImportError:
        pass
    except Exception as e:
        r['board_error'] = '%s: %s' % (type(e).__name__, e)
    sys.modules.pop('board', None)
    if old is not None:
        sys.modules['board'] = old
    print('DSPROBE', json.dumps(r))
