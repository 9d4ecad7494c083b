"""A pcap-recorded stream stays on the relay's native read loop (``rtpgate.api.PacketCapture``):
the loop writes the records of the RTP it relays itself, the recording tap those of the packets
Python handles (the first ones, a new SSRC), into one buffer, so the pcap holds every packet in
the order received, each record byte for byte what the Python path writes (the plugin's own
:class:`rtpgate_recording.pcap.Headers` builds the expected ones here).  With
``RTPGATE_NATIVE_RELAY=0`` (and in a build without the extension) the same pcap comes from the
tap alone; ``recording_packets_native_total`` on ``/metrics`` says which path recorded."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from callhelp import LOCAL, make_call, read_pcap, rtp, wait_for
from rtpgate.api import packet_capture
from rtpgate.testing import ServerProcess
from rtpgate_recording.pcap import Headers

#: the relay uses its native read loop when the server inherits this environment
NATIVE = packet_capture(1, False, 0, lambda: None) is not None
ROUNDS = 60


def _records(path: Path) -> tuple[int, list[bytes]]:
    """The link type and every record's captured bytes (without the record header), in file
    order, read with :mod:`struct` (either byte order, as libpcap reads it)."""
    raw = path.read_bytes()
    order = ">" if raw[:4] == b"\xa1\xb2\xc3\xd4" else "<"
    assert struct.unpack(order + "I", raw[:4])[0] == 0xA1B2C3D4
    linktype = struct.unpack_from(order + "I", raw, 20)[0]
    records, at = [], 24
    while at < len(raw):
        _, _, captured, length = struct.unpack_from(order + "IIII", raw, at)
        assert captured == length
        records.append(raw[at + 16:at + 16 + captured])
        at += 16 + captured
    assert at == len(raw)
    return linktype, records


def native_count(server: ServerProcess) -> int:
    text = server.http("GET", "/metrics")[2].decode()
    found = re.search(r"^recording_packets_native_total (\S+)$", text, re.M)
    assert found, text
    return int(float(found.group(1)))


@pytest.mark.parametrize(("native", "fmt"), [(True, "raw"), (False, "raw"), (True, "eth")])
def test_recorded_stream_is_relayed_natively_and_the_pcap_is_the_python_one(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path, native: bool, fmt: str
        ) -> None:
    spool = tmp_path / "spool"
    env = None if native else {"RTPGATE_NATIVE_RELAY": "0"}
    server = rtpgate_server(f"--recording-dir={spool}", f"--recording-format={fmt}",
                            "--delete-delay=0", env=env)
    call = make_call(server, **{"record call": "yes"})
    a_port, b_port = call.a.getsockname()[1], call.b.getsockname()[1]
    headers = {"a": Headers((LOCAL, a_port), (LOCAL, call.to_a), fmt == "eth"),
               "b": Headers((LOCAL, b_port), (LOCAL, call.to_b), fmt == "eth")}
    expected = []
    for i in range(ROUNDS):
        # halfway, a new SSRC from a: Python relays its first packet, then the loop again
        ssrc_a = 0x1111 if i < ROUNDS // 2 else 0x3333
        for sender, packet in (("a", rtp(i, bytes([i]) * 160, ssrc_a)),
                               ("b", rtp(i, bytes([255 - i]) * (160 + i % 3), 0x2222))):
            assert call.send(sender, packet) == packet
            expected.append(headers[sender](len(packet)) + packet)
    assert call.ng("delete")["result"] == "ok"

    meta = wait_for(lambda: list((spool / "metadata").glob("*.txt")), what="metadata file")
    pcap_file = Path(meta[0].read_text().splitlines()[0])
    linktype, records = _records(pcap_file)
    assert linktype == (1 if fmt == "eth" else 101)
    assert records == expected
    assert len(read_pcap(pcap_file)) == len(expected)  # tshark reads every record
    natively = native_count(server)  # counted when the records were taken, by the call's end
    if native and NATIVE:
        # all but the packets Python relays (each side's first ones, the new SSRC's first)
        assert natively >= 2 * ROUNDS - 10, natively
    else:
        assert natively == 0
