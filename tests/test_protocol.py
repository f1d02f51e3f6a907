"""The v1 advert: the documented test vectors come out of the firmware (on
MicroPython) and the host alike; nothing on air identifies or links a
sensor; an unprovisioned sensor sends nothing."""

from __future__ import annotations

import re

import pytest

from drawsense import firmware, protocol
from drawsense.sim import timeline
from conftest import FIRMWARE, REPO, TEST_ID, TEST_SECRET
from vbhelp import quiet, run_main, said

DOC = (REPO / "docs" / "protocol.md").read_text()


def doc_vectors():
    rows = re.findall(r"^\| (\d+) \| (\w+) \| (\w+) \| (\d+) \| (\d) \| `([0-9a-f]+)` \|$", DOC, re.M)
    assert len(rows) >= 4
    return [(int(c), ev, None if s == "none" else int(s), int(mv), int(fl), bytes.fromhex(h))
            for c, ev, s, mv, fl, h in rows]


def test_doc_secret_is_the_test_secret():
    assert "Secret `000102...1f` (bytes 0..31)" in DOC and TEST_SECRET == bytes(range(32))


@pytest.mark.parametrize("vec", doc_vectors(), ids=lambda v: f"ctr{v[0]}")
def test_host_seals_the_documented_bytes(vec):
    counter, event, since, mv, flags, adv = vec
    assert protocol.seal(TEST_SECRET, counter, event, since, mv, flags) == adv
    f = protocol.KnownDevice(TEST_SECRET).open(adv)
    assert (f.counter, f.event, f.since_draw_ms, f.battery_mv or 0, f.flags) == (counter, event, since, mv, flags)


def test_firmware_builds_the_documented_bytes_on_micropython(tmp_path):
    vecs = doc_vectors()
    codes = {"draw": 1, "holster": 2, "test": 7}
    calls = "\n".join(
        f"say('vec', s.build({c}, {codes[e]}, {0xFFFFFFFF if sd is None else sd}, {mv}, {fl}).hex())"
        for c, e, sd, mv, fl, _ in vecs)
    run = run_main(tmp_path, f"import advert\nfrom dstest import say\ns = advert.Signer(bytes(range(32)))\n{calls}\n",
                   quiet(0.1), with_firmware=FIRMWARE)
    assert said(run, "vec") == [[v[5].hex()] for v in vecs]


def test_firmware_refuses_to_sign_with_an_exhausted_counter(tmp_path):
    # Counter.take() says -1 when the counter has run out; packed as a nonce
    # it would be 0xFFFFFFFF for every payload after it
    run = run_main(tmp_path, """
import advert
from dstest import say
s = advert.Signer(bytes(range(32)))
for c in (-1, 0xFFFFFFFF, 0xFFFFFFFE):
    try:
        say('ctr', c, len(s.build(c, 1, 0, 3000, 0)))
    except ValueError as e:
        say('ctr', c, 'refused')
""", quiet(0.1), with_firmware=FIRMWARE)
    assert said(run, "ctr") == [[-1, "refused"], [0xFFFFFFFF, "refused"], [0xFFFFFFFE, 25]]


def test_every_advert_is_a_legal_legacy_advert_that_verifies(sim):
    run = sim("draw-reholster")
    known = protocol.KnownDevice(TEST_SECRET)
    for a in run.adverts():
        data = bytes.fromhex(a["data"])
        assert len(data) <= 31 and data[0] == len(data) - 1
        assert known.open(data) is not None


def _bursts(run):
    return [b for b in timeline.bursts(run) if b.adverts]


def test_two_bursts_share_no_device_specific_bytes(sim):
    run = sim("draw")  # the draw burst and the reminder burst
    bursts = _bursts(run)
    assert len(bursts) >= 2
    firsts = [bytes.fromhex(b.adverts[0]["data"]) for b in bursts]
    addrs = [b.adverts[0]["addr"] for b in bursts]
    assert len(set(addrs)) == len(addrs)  # a fresh address per burst
    assert len({f[5:9] for f in firsts}) == len(firsts)  # a fresh hint per burst
    # beyond the fixed header (AD length/type, company, version), no byte
    # position holds the same value in every burst's frames by design
    assert all(len({f[i] for f in firsts}) > 1 or i < 4 for i in range(len(firsts[0])) if i != 4)


def test_within_a_burst_the_counter_advances_but_the_epoch_does_not(sim):
    run = sim("draw")
    draw = _bursts(run)[0]
    counters = sorted({a["counter"] for a in draw.adverts})
    assert counters == list(range(counters[0], counters[0] + len(counters)))
    assert len({c >> 4 for c in counters}) == 1 and len(counters) == 6


def test_pico_w_takes_a_new_address_for_every_burst(sim):
    # btstack, like NimBLE, makes a new static random address on every
    # config(addr_mode=1) (extmod/btstack/modbluetooth_btstack.c
    # set_random_address), so the address rotates with the hint.
    run = sim("draw", "picow")
    bursts = _bursts(run)
    assert len({b.adverts[0]["addr"] for b in bursts}) == len(bursts) > 1
    assert len({bytes.fromhex(b.adverts[0]["data"])[5:9] for b in bursts}) == len(bursts)


def test_unprovisioned_sensor_says_so_and_sends_nothing(sim):
    run = sim("draw-reholster", secret=None)
    assert run.adverts() == [] and run.of("radio") == []
    assert [r for r in run.of("report") if r["words"] == ["unprovisioned"]]
    assert [e["event"] for e in run.of("state")] == ["draw", "holster"]  # it still senses


def test_damaged_key_file_is_reported_and_nothing_is_sent(sim):
    good = firmware.key_file(b"\x00" * 31 + b"\x01", TEST_ID)
    run = sim("draw", files=((firmware.KEY_FILE, good[:-1]),))  # 43 bytes: damaged
    assert run.adverts() == []
    assert [r for r in run.of("report") if r["words"][0] == "storage"]


def test_a_key_without_its_counter_file_sends_nothing(tmp_path):
    # a device whose counter file is gone must not restart at 0 under the
    # same key (nonce reuse): it reports it and stays silent
    run = run_main(tmp_path, """
        import os, app, board, config
        os.remove("ds_ctr.bin")
        app.main(board, config)
    """, "draw", board="virtual", with_firmware=FIRMWARE, secret=TEST_SECRET)
    assert run.adverts() == []
    assert [r["words"] for r in run.of("report") if r["words"][0] == "storage"] == [["storage",
                                                                                      "counter_file_missing"]]


@pytest.mark.parametrize("board", ["virtual", "esp32c3"])
def test_heartbeat_phase_does_not_link_a_sensors_bursts(board):
    # A passive scanner that groups short bursts by start time modulo 6 h
    # used to sort two sensors into two pure clusters (a fixed period: the
    # phase is a fingerprint). With the period drawn afresh each time, no
    # group of bursts within a minute of phase comes from one sensor alone.
    from drawsense.sim import vboard
    from drawsense.sim.scenario import Scenario

    day = 25 * 3600 * 10**6
    period_ms = 6 * 3600 * 1000
    starts = []
    for device, seed, booted_ms in (("a", 1, 0), ("b", 2, 2 * 3600 * 1000 + 13 * 60 * 1000)):
        s = Scenario(name="holstered", description="", seed=seed, duration_us=day, initial_out=False, edges=[],
                     battery=[(0, 3000)], source="test")
        run = vboard.run(s, board, secret=bytes([seed]) * 32, device_id=device.encode() * 8)
        beats = [b.t_ms for b in timeline.bursts(run) if b.event == "heartbeat"]
        assert len(beats) >= 3
        # nor by their interval: no period to estimate (a drifting RC clock
        # alone only stretches a fixed one)
        gaps = [y - x for x, y in zip(beats, beats[1:])]
        assert max(gaps) - min(gaps) > 10 * 60_000, gaps
        starts += [((booted_ms + t) % period_ms, device) for t in beats]
    starts.sort()
    groups, cur = [], [starts[0]]
    for prev, nxt in zip(starts, starts[1:]):
        if nxt[0] - prev[0] <= 60_000:
            cur.append(nxt)
        else:
            groups.append(cur)
            cur = [nxt]
    groups.append(cur)
    if len(groups) > 1 and starts[0][0] + period_ms - starts[-1][0] <= 60_000:  # the phase is circular
        groups[0] += groups.pop()
    pure = [g for g in groups if len(g) >= 2 and len({d for _, d in g}) == 1]
    assert not pure, pure
