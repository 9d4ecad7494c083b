"""Recording with ``--num-threads=2`` (worker processes sharded by call-id): each worker
records the calls it holds into the one spool, every call into its own pcap."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from callhelp import make_call, read_pcap, rtp, wait_for
from rtpgate.testing import ServerProcess


def test_two_workers_record_their_calls_into_one_spool(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0", "--num-threads=2")
    calls = [make_call(server, **{"record call": "yes"}) for _ in range(6)]
    sent: dict[str, list[bytes]] = {}
    for n, call in enumerate(calls):
        sent[call.call_id] = [rtp(i, bytes([n]) * 160, n + 1) for i in range(5)]
        for packet in sent[call.call_id]:
            assert call.send("a", packet) == packet
        assert call.ng("delete")["result"] == "ok"
    metas = wait_for(lambda: len(found := list((spool / "metadata").glob("*.txt"))) == 6
                     and found, what="six finished recordings")
    recorded = {}
    for meta in metas:
        pcap_file = Path(meta.read_text().splitlines()[0])
        recorded[pcap_file.name.rsplit("-", 1)[0]] = [c.data for c in read_pcap(pcap_file)]
    assert recorded == sent
    assert server.stop() == 0
    # each worker logs its own counts at the stop; together they are every packet
    assert sum(int(part.split(" packets written")[0]) for part in
               server.log.split("recording: ")[1:] if " packets written" in part) == 30
