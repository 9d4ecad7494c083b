"""AMR mode changes and CMRs as rtpengine makes them, through a real server: the AMR sent to
a callee (a PCMA caller transcoded) follows its fmtp (``mode-set``, ``mode-change-neighbor``,
``mode-change-period``) and the codec options of the ``codec-transcode`` spec
(``CMR-interval``, ``mode-change-interval``).  The tests read the CMR field and the frame
type of every AMR payload the callee gets (octet-aligned: CMR in the first byte's high four
bits, FT in the table of contents' bits 1-4)."""

from __future__ import annotations

import itertools
import socket
import time
import uuid
from collections.abc import Callable

import pytest
from audio import rtp_packets, sine
from rtpgate.testing import ServerProcess
from test_transcoded_call import LOCAL, ng, party, relay_port, sdp

MODES = "octet-align=1;mode-set=0,2,4,7"


def amr_call(server: ServerProcess, caller: socket.socket, callee: socket.socket, fmtp: str,
             options: str = "") -> tuple[str, int, int]:
    """The caller (PCMA) is offered AMR at 5.9 kbit/s (mode 2) with ``fmtp``; the callee
    answers it.  Returns the call-id and the ports the callee and the caller send to."""
    call_id = uuid.uuid4().hex
    spec = f"AMR/8000/1/5900//{fmtp}" + (f"/{options}" if options else "")
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a",
                                   "codec": {"transcode": [spec]},
                                   "sdp": sdp(caller.getsockname()[1], "8",
                                              "a=rtpmap:8 PCMA/8000\r\n")})
    assert f"a=fmtp:96 {fmtp}" in offer["sdp"], offer["sdp"]
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(callee.getsockname()[1], "96",
                                                f"a=rtpmap:96 AMR/8000\r\na=fmtp:96 {fmtp}\r\n")})
    return call_id, relay_port(offer), relay_port(answer)


def run(caller: socket.socket, to_caller_side: int, callee: socket.socket, to_callee_side: int,
        seconds: float, cmr: int = 15, callee_from: float = 0.0) -> list[tuple[int, int]]:
    """Both parties send for ``seconds`` (the callee, from ``callee_from`` s on, AMR at mode 2
    carrying ``cmr``); the (CMR, FT) of each AMR packet the callee gets, in order."""
    pcma = rtp_packets("PCMA/8000", sine(8000, seconds), pt=8)
    amr = [p[:12] + bytes([cmr << 4 | p[12] & 0x0F]) + p[13:]
           for p in rtp_packets("AMR/8000", sine(8000, seconds, 500), pt=96, fmtp=MODES)]
    callee.setblocking(False)
    got: list[bytes] = []
    start = time.monotonic()
    for n, (a, b) in enumerate(zip(pcma, amr, strict=True)):
        while time.monotonic() < start + 0.02 * n:
            time.sleep(0.001)
        caller.sendto(a, (LOCAL, to_callee_side))
        if 0.02 * n >= callee_from:
            callee.sendto(b, (LOCAL, to_caller_side))
        got += drain(callee)
    time.sleep(0.3)
    got += drain(callee)
    got.sort(key=lambda p: int.from_bytes(p[2:4], "big"))  # seq order (no wrap in 2 s: checked)
    assert all(int.from_bytes(b[2:4], "big") - int.from_bytes(a[2:4], "big") == 1
               for a, b in itertools.pairwise(got))
    assert {p[1] & 0x7F for p in got} == {96}
    return [(p[12] >> 4, (p[13] >> 3) & 0x0F) for p in got]


def drain(sock: socket.socket) -> list[bytes]:
    out = []
    try:
        while True:
            out.append(sock.recv(4096))
    except BlockingIOError:
        return out


def runs(values: list[int]) -> list[tuple[int, int, int]]:
    """(value, first index, length) of each run of equal values."""
    out, index = [], 0
    for value, group in itertools.groupby(values):
        length = len(list(group))
        out.append((value, index, length))
        index += length
    return out


@pytest.mark.parametrize(("fmtp", "expected"), [
    (MODES, [2, 7]),
    (MODES + ";mode-change-neighbor=1", [2, 4, 7]),
    (MODES + ";mode-change-neighbor=1;mode-change-period=2", [2, 4, 7]),
])
def test_cmr_followed_as_the_fmtp_allows(rtpgate_server: Callable[..., ServerProcess],
                                         fmtp: str, expected: list[int]) -> None:
    """The callee asks for mode 7 (12.2 kbit/s) in every packet from 0.4 s on; the AMR it
    gets goes from mode 2 straight to 7, or with ``mode-change-neighbor=1`` through mode 4
    (one frame of it), and with ``mode-change-period=2`` each mode lasts an even number of
    frames (the mode-4 step: two frames)."""
    server = rtpgate_server("--delete-delay=0")
    caller, callee = party(), party()
    call_id, to_caller_side, to_callee_side = amr_call(server, caller, callee, fmtp)
    got = run(caller, to_caller_side, callee, to_callee_side, 1.2, cmr=7, callee_from=0.4)
    ng(server, "delete", **{"call-id": call_id})
    assert {cmr for cmr, _ in got} == {15}  # rtpgate asks nothing itself here
    modes = runs([ft for _, ft in got])
    assert [value for value, _, _ in modes] == expected, modes
    assert modes[0][2] >= 15  # mode 2 until the request came
    if "mode-change-period=2" in fmtp:
        assert all(start % 2 == 0 for _, start, _ in modes), modes
        assert modes[1][2] == 2, modes
    elif "mode-change-neighbor=1" in fmtp:
        assert modes[1][2] == 1, modes


def test_cmr_interval_asks_for_the_next_mode_up(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``CMR-interval=200``: the callee only ever sends mode 2; once per 200 ms rtpgate asks
    it for the next mode of its set (4) with a CMR in three consecutive packets."""
    server = rtpgate_server("--delete-delay=0")
    caller, callee = party(), party()
    call_id, to_caller_side, to_callee_side = amr_call(server, caller, callee, MODES,
                                                       "CMR-interval=200")
    got = run(caller, to_caller_side, callee, to_callee_side, 1.6)
    ng(server, "delete", **{"call-id": call_id})
    asked = [(start, length) for value, start, length in runs([c for c, _ in got])
             if value != 15]
    assert {c for c, _ in got} == {15, 4}, got
    assert all(length == 3 for _, length in asked), asked
    # once per 200 ms of the server's clock: about every tenth packet of a steady stream;
    # wide bounds, as a loaded machine delivers the test's packets in bursts (10.5's every
    # other packet would give gaps of 3 and 4)
    assert 3 <= len(asked) <= 9, asked
    assert all(5 <= b[0] - a[0] <= 18 for a, b in itertools.pairwise(asked)), asked
    assert {ft for _, ft in got} == {2}  # its own requests change nothing of what it gets


def test_mode_change_interval_steps_up_without_cmr(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``mode-change-interval=300``: the callee sends no CMR; every 300 ms the AMR it gets
    goes one mode of its set up: 2, then 4, then 7."""
    server = rtpgate_server("--delete-delay=0")
    caller, callee = party(), party()
    call_id, to_caller_side, to_callee_side = amr_call(server, caller, callee, MODES,
                                                       "mode-change-interval=300")
    got = run(caller, to_caller_side, callee, to_callee_side, 1.2)
    ng(server, "delete", **{"call-id": call_id})
    modes = runs([ft for _, ft in got])
    assert [value for value, _, _ in modes] == [2, 4, 7], modes
    assert 10 <= modes[0][2] <= 20 and 10 <= modes[1][2] <= 20, modes
