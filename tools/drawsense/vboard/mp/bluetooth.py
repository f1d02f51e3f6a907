# Strict fake of MicroPython's bluetooth module (the radio of the virtual
# board). Only the advertising side is modelled; calling anything else is an
# AttributeError that says so.
import _vb
import board

_MAX_ADV = 31


class BLE:
    _inst = None

    def __new__(cls):
        # bluetooth.BLE() is a singleton on every port.
        if BLE._inst is None:
            BLE._inst = object.__new__(cls)
        return BLE._inst

    def __init__(self):
        pass

    def active(self, active=None):
        if active is None:
            return _vb.ble_active
        if active and not _vb.ble_active:
            # Bringing the controller up takes time on a real chip.
            _vb.sleep_awake(board.BLE_ACTIVATE_MS * 1000)
        if not active:
            _vb.radio_stop()
        _vb.ble_active = bool(active)
        return _vb.ble_active

    def config(self, *args, **kwargs):
        if args and kwargs or len(args) > 1:
            raise TypeError("config takes one name or keyword arguments")
        if args:
            if args[0] == "mac":
                return (0, bytes(_vb.addr))
            if args[0] == "gap_name":
                return b"MPY"
            raise ValueError("unknown config param")
        for k in kwargs:
            if k not in ("gap_name", "addr_mode", "mtu", "rxbuf", "bond", "mitm", "io", "le_secure"):
                raise ValueError("unknown config param")
        mode = kwargs.get("addr_mode")
        if mode is not None:
            if mode not in (0, 1, 2, 3):
                raise ValueError("invalid addr_mode")
            if board.PORT == "rp2":
                # btstack: RPA/NRPA refused; one random static address per
                # power cycle, however often it is asked for.
                if mode in (2, 3):
                    raise OSError(22)
                if mode == 1 and not _vb.random_addr_set:
                    _vb.new_random_address()
                    _vb.random_addr_set = True
            elif mode in (1, 3):
                # NimBLE: each call makes a new random address.
                _vb.new_random_address()

    def irq(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError("handler must be callable")
        self._irq = handler

    def gap_advertise(self, interval_us, adv_data=None, *, resp_data=None, connectable=True):
        if not _vb.ble_active:
            raise OSError(19)  # ENODEV: BLE not active
        if interval_us is None:
            _vb.radio_stop()
            return
        if type(interval_us) is not int:
            raise TypeError("interval_us must be int or None")
        interval_us = interval_us // 625 * 625  # the controller's 0.625 ms steps
        if interval_us < board.ADV_MIN_INTERVAL_US:
            raise OSError(22)  # EINVAL: below this controller's legal minimum
        if adv_data is None:
            adv_data = _vb.adv_data
        adv_data = bytes(adv_data)
        if len(adv_data) > _MAX_ADV or (resp_data is not None and len(resp_data) > _MAX_ADV):
            raise OSError(22)  # legacy advertising: 31 bytes at most
        _vb.radio_start(interval_us, adv_data)

    def __getattr__(self, name):
        raise AttributeError("virtual board does not model BLE.%s" % name)
