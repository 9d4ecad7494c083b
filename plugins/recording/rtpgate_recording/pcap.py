"""The pcap file format and the IP/UDP headers rtpengine puts in front of each recorded packet.

Written by hand rather than with a library: a record is a 16-byte header and a 28- or 48-byte
IP/UDP header before the packet, packed with :mod:`struct` from a per-stream template, which is
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
_FILE_HEADER = struct.Struct("=IHHiIII")
_RECORD = struct.Struct("=IIII")
_IP4 = struct.Struct("!BBHHHBBH4s4s")
_IP6 = struct.Struct("!IHBB16s16s")
_UDP = struct.Struct("!HHHH")


def file_header(linktype: int) -> bytes:
    """The global header of a pcap file (microsecond timestamps, version 2.4)."""
    return _FILE_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype)


def record(when: float, size: int) -> bytes:
    """The record header of a packet of ``size`` bytes captured at ``when``
    (``time.time()``)."""
    seconds = int(when)
    return _RECORD.pack(seconds, int((when - seconds) * 1_000_000), size, size)


class Headers:
    """What goes before each packet of one stream: an Ethernet header (``eth``) and the IPv4 or
    IPv6 and UDP header from ``source`` to ``destination``, as rtpengine's
    ``endpoint_packet_header`` fakes them (no checksums)."""

    __slots__ = ("_dst", "_eth", "_ip6", "_src", "_udp_ports")

    def __init__(self, source: tuple[str, int], destination: tuple[str, int], eth: bool
                 ) -> None:
        src = ipaddress.ip_address(source[0])
        dst = ipaddress.ip_address(destination[0])
        if src.version != dst.version:  # an IPv4 party of an IPv6 interface cannot happen
            src = ipaddress.ip_address("::" if dst.version == 6 else "0.0.0.0")
        self._ip6 = dst.version == 6
        self._src = src.packed
        self._dst = dst.packed
        self._udp_ports = (source[1], destination[1])
        ethertype = b"\x86\xdd" if self._ip6 else b"\x08\x00"
        self._eth = bytes(12) + ethertype if eth else b""

    def __call__(self, size: int) -> bytes:
        """The headers for a UDP payload of ``size`` bytes."""
        udp = _UDP.pack(self._udp_ports[0], self._udp_ports[1], size + 8, 0)
        if self._ip6:
            ip = _IP6.pack(6 << 28, size + 8, 17, 64, self._src, self._dst)
        else:
            ip = _IP4.pack(0x45, 0, size + 28, 0, 0x4000, 64, 17, 0, self._src, self._dst)
        return self._eth + ip + udp
