"""The sensor's hard-IRQ handler allocates nothing and schedules nothing.

Proof on the real VM: micropython.heap_lock() makes any allocation raise
MemoryError; the virtual board runs every hard IRQ under it, and this file
also calls the handler directly under the lock. A counter-test shows the lock
really catches an allocating handler, so the proof can fail.
"""

from __future__ import annotations

import pytest

from drawsense.sim import vboard

import mpcompat
from conftest import FIRMWARE
from vbhelp import quiet, run_main, said


def test_edge_handler_allocates_nothing_under_heap_lock(tmp_path):
    run = run_main(tmp_path, """
        import machine, micropython, edges
        from dstest import say
        log = edges.EdgeLog()
        pin = machine.Pin(3, machine.Pin.IN, machine.Pin.PULL_UP)
        irq = log.irq
        n = 0
        micropython.heap_lock()
        while n < 5000:
            irq(pin)
            n += 1
        micropython.heap_unlock()
        say("handled", log.count, log.take()[0])
    """, quiet(0.1), with_firmware=FIRMWARE)
    assert said(run, "handled") == [[5000, 5000]]


def test_heap_lock_catches_an_allocating_hard_irq(tmp_path):
    # Same shape of handler, but it builds a tuple per edge: on a board that is a
    # crash in IRQ context; the virtual board must report it.
    with pytest.raises(vboard.FirmwareCrash) as e:
        run_main(tmp_path, """
            import machine
            last = [None]
            def bad(pin):
                last[0] = (pin.value(), 1)  # a new tuple per edge
            p = machine.Pin(15, machine.Pin.IN, machine.Pin.PULL_UP)
            p.irq(handler=bad, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING, hard=True)
            machine.lightsleep(5000)
        """, quiet(2, [500, 700]), board="picow")  # rp2: hard IRQs exist
    assert "MemoryError" in str(e.value)


def test_edge_handler_names_only_timestamp_and_pin_read():
    # Static check of what the handler can reach: no schedule, print, append.
    edges = mpcompat.load("edges")
    names = set(edges.EdgeLog.irq.__code__.co_names)
    assert names <= {"t", "ticks_ms", "level", "value", "count", "_WRAP"}, names


@pytest.mark.parametrize("board,hard", [("esp32c3", False), ("picow", True), ("virtual", True)])
def test_firmware_arms_the_ports_own_irq_on_both_edges(tmp_path, board, hard):
    # esp32's Pin.irq has no `hard` (every esp32 pin IRQ is soft); rp2 and
    # the virtual board take a hard one. Both edges, in the port's own values.
    run = run_main(tmp_path, """
        import board, hw, _vb, machine
        from dstest import say
        h = hw.Hardware(board)
        h.arm(lambda p: None)
        st = _vb.pin_state(board.SENSOR_PIN)
        both = machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING
        say("irq", st["hard"], st["trigger"] == both)
    """, quiet(0.5), board=board, with_firmware=FIRMWARE)
    assert said(run, "irq") == [[hard, True]]


def test_edge_storm_is_counted_even_when_the_main_loop_is_late():
    edges = mpcompat.load("edges")

    class Pin:
        level = 1

        def value(self):
            return self.level

    log, pin = edges.EdgeLog(), Pin()
    for _ in range(1000):
        log.irq(pin)
    n, _, level = log.take()
    assert (n, level) == (1000, 1)
    assert log.take()[0] == 0


def test_edge_counter_wraps_within_a_32_bit_ports_small_ints():
    # The handler computes count + 1 before masking: that sum must still be a
    # small int on a 32-bit board (31-bit signed: at most 2**30 - 1), or the
    # edge after the wrap point allocates in the hard IRQ. The unix port's
    # small ints are wider, so heap_lock cannot show this one.
    edges = mpcompat.load("edges")
    assert edges._WRAP + 1 <= (1 << 30) - 1

    class Pin:
        def value(self):
            return 0

    log, pin = edges.EdgeLog(), Pin()
    log.count = log._taken = edges._WRAP - 2
    for _ in range(5):
        log.irq(pin)
    assert log.count == 2 and log.take()[0] == 5  # counted across the wrap
