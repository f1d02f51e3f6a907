# Strict fake of MicroPython's bluetooth module (the radio of the virtual
# board): extmod/modbluetooth.c with the port's stack (NimBLE on esp32,
# btstack on rp2). Only the advertising side is modelled; calling anything
# else is an AttributeError that says so. Arguments are checked against the
# port contract (_vb.bind).
import _vb
import board

_MAX_ADV = 31
_ENODEV = 19  # ERRNO_BLUETOOTH_NOT_ACTIVE (extmod/modbluetooth.h): MP_ENODEV
_EINVAL = 22
_EOPNOTSUPP = 95  # picolibc, Zephyr's default libc (zephyr.toml: BLE.config)
_ZEPHYR = board.PORT == "zephyr"
# zephyr: the product's port patch (boards/nrf52840/board.py ZEPHYR_ADV_PATCH):
# a non-connectable advert starts without BT_LE_ADV_OPT_USE_IDENTITY, so
# Zephyr gives every start a fresh non-resolvable private address, and no
# connection record is allocated for it. A stock build: the identity address
# on every advert, and a record per start.
_PATCHED = _ZEPHYR and getattr(board, "ZEPHYR_ADV_PATCH", False)
# sizeof(mp_bt_zephyr_conn_t): two pointers on a Cortex-M4
# (ports/zephyr/modbluetooth_zephyr.c)
_CONN_REC = 8


class BLE:
    _inst = None

    def __new__(cls, *a, **kw):
        # bluetooth.BLE() is a singleton on every port.
        if BLE._inst is None:
            BLE._inst = object.__new__(cls)
        return BLE._inst

    def __init__(self, *a, **kw):
        _vb.bind("bluetooth.BLE", a, kw)

    def active(self, *a, **kw):
        b = _vb.bind("bluetooth.BLE.active", a, kw)
        if not b:
            return _vb.ble_active
        active = bool(a[0] if a else b["active"])
        if active and not _vb.ble_active:
            # Bringing the controller up takes time on a real chip; the
            # scheduler runs meanwhile (NimBLE's init waits in
            # mp_event_wait_ms), so soft IRQs are not held up.
            _vb.sleep_awake(board.BLE_ACTIVATE_MS * 1000)
            _vb.radio_used = True
        if not active:
            _vb.radio_stop()
            # zephyr mp_bluetooth_deinit drops the root pointers: the
            # records gap_advertise kept become garbage
            _vb.drop_conn_records()
        _vb.ble_active = active
        return _vb.ble_active

    def config(self, *args, **kwargs):
        # extmod/modbluetooth.c bluetooth_ble_config
        if args and kwargs:
            raise TypeError("can't specify pos and kw args")
        if len(args) > 1:
            raise TypeError("must query one param")
        if args:
            if args[0] == "mac":
                if not _vb.ble_active:
                    raise OSError(_ENODEV)
                return (0 if _vb.addr == bytes(_vb.unique_id()) else 1, bytes(_vb.addr))
            if args[0] == "gap_name":
                return b"MPY"
            raise ValueError("unknown config param")
        known = _vb.contract["bluetooth.BLE.config"][3]  # the stack's settable names
        for k in kwargs:
            if k not in known:
                raise ValueError("unknown config param")
        mode = kwargs.get("addr_mode")
        if _ZEPHYR and "addr_mode" in kwargs:
            # ports/zephyr/modbluetooth_zephyr.c mp_bluetooth_set_address_mode:
            # unconditional, active or not, any value
            raise OSError(_EOPNOTSUPP)
        if mode is not None:
            if type(mode) is not int:
                raise TypeError("can't convert %s to int" % type(mode).__name__)
            # mp_bluetooth_set_address_mode (nimble and btstack): OSError
            # while the radio is inactive; each addr_mode=1 call generates a
            # new static random address (set_random_address), on both stacks.
            if not _vb.ble_active:
                raise OSError(_ENODEV)
            if board.PORT == "rp2" and mode in (2, 3):
                raise OSError(_EINVAL)  # btstack: RPA/NRPA "not yet supported"
            if mode in (1, 2, 3):
                _vb.new_random_address()

    def irq(self, *a, **kw):
        b = _vb.bind("bluetooth.BLE.irq", a, kw)
        handler = b.get("handler")
        if handler is not None and not callable(handler):
            raise TypeError("handler must be callable")
        self._irq = handler

    def gap_advertise(self, *a, **kw):
        b = _vb.bind("bluetooth.BLE.gap_advertise", a, kw)
        interval_us = b.get("interval_us", 500000)
        if interval_us is None:
            # bluetooth_ble_gap_advertise: stop, whatever the radio's state
            _vb.radio_stop()
            return
        if type(interval_us) is not int:
            raise TypeError("can't convert %s to int" % type(interval_us).__name__)
        if not _vb.ble_active:
            raise OSError(_ENODEV)
        adv_data = b.get("adv_data")
        resp_data = b.get("resp_data")
        interval_us = interval_us // 625 * 625  # the controller's 0.625 ms steps
        if interval_us < board.ADV_MIN_INTERVAL_US:
            raise OSError(_EINVAL)  # below this controller's legal minimum
        if adv_data is None:
            adv_data = _vb.adv_data
        adv_data = bytes(adv_data)
        if len(adv_data) > _MAX_ADV or (resp_data is not None and len(resp_data) > _MAX_ADV):
            raise OSError(_EINVAL)  # legacy advertising: 31 bytes at most
        if _ZEPHYR:
            connectable = b.get("connectable", True)
            if _PATCHED and not connectable:
                _vb.new_nrpa()  # Zephyr's own address for a non-identity advert
            else:
                # mp_bluetooth_gap_advertise_start: m_new0(mp_bt_zephyr_conn_t)
                # appended to objs_list (reachable until active(False));
                # MemoryError under heap_lock, as on the board
                _vb.conn_records.append(bytearray(_CONN_REC))
                _vb.identity_address()
        _vb.radio_start(interval_us, adv_data)

    def __getattr__(self, name):
        if _vb.has("bluetooth.BLE." + name):
            raise AttributeError("virtual board does not model BLE.%s" % name)
        raise AttributeError("'BLE' object has no attribute '%s'" % name)
