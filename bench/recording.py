#!/usr/bin/env python3
"""Relay CPU per packet with ``pcap`` recording on and off: rtpgate (with rtpgate-recording)
and rtpengine 10.5 (userspace, its own ``--recording-method=pcap``) in the same run.

    .venv/bin/python bench/recording.py [--calls 100] [--pps 50] [--seconds 10] [--rounds 1]
                                        [--no-rtpengine]

Each configuration is one fixed-rate run of ``../shared/tools/relaybench.py`` (``--calls`` x
``--pps`` per direction, both directions, G.711-sized RTP) against a fresh server: without
recording, then with ``--recording-dir`` and every call offered with the ``record-call`` flag.
The summary gives the relay's CPU time per relayed packet (µs; all its threads, the writer
thread included) for each, the increase recording costs (the issue's aim: at most 25 %), and
rtpgate / rtpengine.  After a recording run the size of the pcaps written is printed, so a run
that recorded nothing shows.  rtpengine uses ports 41723-41790 and 27000-27999 (this helper's
block); rtpgate 42723 and 43000-43999.  Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from servers import TOOLS, reference_rtpengine, rtpgate

RELAYBENCH = TOOLS / "relaybench.py"
RTPENGINE_NG = 41723
RTPENGINE_EXTRA = ("--delete-delay=0 --listen-ng=127.0.0.1:41723 --listen-tcp-ng=127.0.0.1:41724 "
                   "--listen-cli=127.0.0.1:41790 --listen-http=127.0.0.1:41780 "
                   "--listen-https=127.0.0.1:41743 --port-min=27000 --port-max=27999")
RTPGATE_NG = 42723
RTPGATE_ARGS = ("--listen-ng=127.0.0.1:42723",
                "--interface=127.0.0.1", "--port-min=43000", "--port-max=43999",
                "--delete-delay=0", "--log-level=5")


def relaybench(ng_port: int, pid: int, label: str, record: bool, args: argparse.Namespace
               ) -> dict:
    cmd = [sys.executable, str(RELAYBENCH), "--ng", f"udp://127.0.0.1:{ng_port}",
           "--calls", str(args.calls), "--pps", str(args.pps), "--seconds", str(args.seconds),
           "--pid", str(pid), "--label", label, *(["--flag", "record-call"] if record else [])]
    print(f"# {label}: {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"relaybench failed for {label}")
    result: dict = json.loads(proc.stdout.splitlines()[-1])
    result["label"] = label
    return result


def pcap_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.rglob("*.pcap"))


def run_rtpgate(record: bool, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="rtpgate-rec-bench-") as tmp:
        options = [*RTPGATE_ARGS, *([f"--recording-dir={tmp}"] if record else [])]
        with rtpgate(options) as gate:
            result = relaybench(RTPGATE_NG, gate.pid, "rtpgate" + (" + pcap" if record else ""),
                                record, args)
        result["pcap_bytes"] = pcap_bytes(Path(tmp))
    return result


def run_rtpengine(record: bool, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="rtpengine-rec-bench-") as tmp:
        extra = RTPENGINE_EXTRA + (f" --recording-dir={tmp} --recording-method=pcap"
                                   if record else "")
        with reference_rtpengine(extra) as pid:
            result = relaybench(RTPENGINE_NG, pid, "rtpengine 10.5" + (" + pcap" if record
                                                                       else ""), record, args)
        result["pcap_bytes"] = pcap_bytes(Path(tmp))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--pps", type=int, default=50, help="packets per second per direction")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-rtpengine", action="store_true")
    args = parser.parse_args()

    runs: list[tuple[Callable[[bool, argparse.Namespace], dict], bool]] = [
        (run_rtpgate, False), (run_rtpgate, True)]
    if not args.no_rtpengine:
        runs += [(run_rtpengine, False), (run_rtpengine, True)]
    results: list[dict] = []
    for round_ in range(args.rounds):
        for run, record in (runs if round_ % 2 == 0 else runs[::-1]):
            load = Path("/proc/loadavg").read_text().split()[0]
            result = run(record, args)
            result["load_before"] = load
            results.append(result)
            print(f"  {result['label']:24} {result['relayed_pps']:>6} pps relayed "
                  f"(loss {result['loss_pct']} %), relay CPU {result['cpu_relay_pct']} %, "
                  f"{result['relay_cpu_us_per_pkt']:.2f} µs per packet, pcap "
                  f"{result['pcap_bytes'] / 1e6:.1f} MB, 1-min load before {load}", flush=True)
    per_packet = {label: statistics.median(r["relay_cpu_us_per_pkt"] for r in results
                                           if r["label"] == label)
                  for label in dict.fromkeys(r["label"] for r in results)}
    print(f"# {args.calls} calls x {args.pps} pps x 2 directions, {args.seconds:g} s, "
          f"{os.cpu_count()} cores, loopback; medians of {args.rounds} round(s)")
    for label, value in per_packet.items():
        print(f"{label:24} {value:.2f} µs relay CPU per packet")
    for server in ("rtpgate", "rtpengine 10.5"):
        off, on = per_packet.get(server), per_packet.get(server + " + pcap")
        if off and on:
            print(f"{server}: pcap recording adds {100 * (on / off - 1):.0f} %")
    for suffix in ("", " + pcap"):
        ours, theirs = per_packet.get("rtpgate" + suffix), per_packet.get(
            "rtpengine 10.5" + suffix)
        if ours and theirs:
            print(f"rtpgate / rtpengine{suffix}: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
