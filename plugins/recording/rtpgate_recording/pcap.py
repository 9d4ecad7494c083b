"""The pcap file format and the IP/UDP headers rtpengine puts in front of each recorded packet.

Written by hand rather than with a library: a record is a 16-byte header and a 28- or 48-byte
IP/UDP header before the packet, packed with one precompiled :mod:`struct` per stream, which is
what keeps recording's CPU cost per packet small (``bench/recording.py``); libpcap's Python
bindings are unmaintained and dpkt/scapy build an object per packet.  ``tshark`` reads these
files in the tests.
"""

from __future__ import annotations

import ipaddress
import struct

#: libpcap's link types as written in files (``pcap_open_dead(DLT_RAW)`` writes
#: LINKTYPE_RAW).
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
FORMATS = {"raw": LINKTYPE_RAW, "eth": LINKTYPE_ETHERNET}

SNAPLEN = 65535
#: Files are written big-endian (a reader tells by the magic number), so that a record's
#: header and the packet's IP and UDP headers are one ``struct`` pack per packet.
_FILE_HEADER = struct.Struct("!IHHiIII")
_ETH = "12xH"
_IP4 = "BBHHHBBH4s4s"
_IP6 = "IHBB16s16s"
_UDP = "HHHH"


def file_header(linktype: int) -> bytes:
    """The global header of a pcap file (microsecond timestamps, version 2.4)."""
    return _FILE_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype)


class Headers:
    """What goes before each packet of one stream: an Ethernet header (``eth``) and the IPv4 or
    IPv6 and UDP header from ``source`` to ``destination``, as rtpengine's
    ``endpoint_packet_header`` fakes them (no checksums)."""

    __slots__ = ("_dst", "_eth", "_ip", "_ip6", "_overhead", "_ports", "_src")

    def __init__(self, source: tuple[str, int], destination: tuple[str, int], eth: bool
                 ) -> None:
        src = ipaddress.ip_address(source[0])
        dst = ipaddress.ip_address(destination[0])
        if src.version != dst.version:  # an IPv4 party of an IPv6 interface cannot happen
            src = ipaddress.ip_address("::" if dst.version == 6 else "0.0.0.0")
        self._ip6 = dst.version == 6
        self._src = src.packed
        self._dst = dst.packed
        self._ports = (source[1], destination[1])
        self._eth = ((0x86DD if self._ip6 else 0x0800),) if eth else ()
        layout = (_ETH if eth else "") + (_IP6 if self._ip6 else _IP4) + _UDP
        self._ip = struct.Struct("!" + layout)
        self._overhead = self._ip.size

    def __call__(self, size: int) -> bytes:
        """The headers for a UDP payload of ``size`` bytes (no pcap record header)."""
        sport, dport = self._ports
        if self._ip6:
            return self._ip.pack(*self._eth, 6 << 28, size + 8, 17, 64, self._src, self._dst,
                                 sport, dport, size + 8, 0)
        return self._ip.pack(*self._eth, 0x45, 0, size + 28, 0, 0x4000, 64, 17, 0, self._src,
                             self._dst, sport, dport, size + 8, 0)

    @property
    def overhead(self) -> int:
        """The length of what :meth:`__call__` returns."""
        return self._overhead
