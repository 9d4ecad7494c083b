"""``--dtmf-log-dest`` with digits heard in-band: where rtpgate detects DTMF in a party's
audio (``always transcode`` towards a peer with telephone-event), each digit is logged as
rtpengine 10.5 logs the digits its DSP detects (checked against 10.5: the same JSON, the
source tag of the party that played the tones)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import numpy as np
from audio import rtp_packets
from rtpgate.testing import ServerProcess
from test_transcoded_call import DTMF_COLS, DTMF_KEYS, DTMF_ROWS, call, exchange, ng, party


def test_digits_heard_in_band_are_logged(rtpgate_server: Callable[..., ServerProcess]) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(3.0)
    server = rtpgate_server("--delete-delay=0",
                            f"--dtmf-log-dest=127.0.0.1:{listener.getsockname()[1]}")
    caller, callee = party(), party()
    call_id, from_callee, _ = call(
        server, caller, callee,
        ("0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                    "a=rtpmap:101 telephone-event/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), flags=["always transcode"])
    t = np.arange(1600) / 8000
    audio = []
    for digit in "29":
        row = next(r for r, keys in enumerate(DTMF_KEYS) if digit in keys)
        low, high = DTMF_ROWS[row], DTMF_COLS[DTMF_KEYS[row].index(digit)]
        audio.append(((np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
                      * 6000).astype(np.int16))
        audio.append(np.zeros(1600, dtype=np.int16))
    exchange(callee, from_callee, rtp_packets("PCMA/8000", np.concatenate(audio), pt=8), caller)
    reports = [json.loads(listener.recv(4096)) for _ in range(2)]
    for report in reports:
        assert report.pop("timestamp") > 0
        assert 150 <= report.pop("duration") <= 240  # 200 ms of tone, give or take a frame
    assert reports == [{"callid": call_id, "source_tag": "b", "tags": ["a", "b"],
                        "type": "DTMF", "source_ip": "127.0.0.1", "event": event,
                        "volume": 10} for event in (2, 9)]
    ng(server, "delete", **{"call-id": call_id})
    listener.close()
