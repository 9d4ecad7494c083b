"""SDP parsing that remembers where everything is.

The rewriter (:mod:`rtpgate.engine.rewrite`) copies the original text and only replaces the
pieces it must, so the parser records offsets into the text for every line and token it may
touch.  Everything it does not touch is copied byte for byte, line terminators included.

The rules follow rtpengine's ``sdp_parse``: the body must start with ``v=0``; every line is
``<letter>=``; ``o=``/``s=`` may not appear in a media section; ``c=`` needs ``IN`` and an
``IP4``/``IP6`` address of that family; unknown line letters are errors; a blank line ends the
body.  An attribute that fails its own parse (an ``a=rtpmap`` without a clock rate, say) is kept
verbatim and otherwise ignored, as rtpengine does.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


class SdpError(Exception):
    """The body is not SDP (``Failed to parse SDP``); ``detail`` says where, for the log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# Attribute kinds (plain ints: compared in the rewriter's inner loop).
OTHER = 0
RTCP = 1
CANDIDATE = 2
ICE = 3  # ice-mismatch, remote-candidates
ICE_LITE = 4
ICE_OPTIONS = 5
ICE_UFRAG = 6
ICE_PWD = 7
CRYPTO = 8
SSRC = 9
INACTIVE = 10
SENDRECV = 11
SENDONLY = 12
RECVONLY = 13
RTCP_MUX = 14
EXTMAP = 15
GROUP = 16
MID = 17
FINGERPRINT = 18
SETUP = 19
RTPMAP = 20
FMTP = 21
IGNORE = 22  # an a=rtcp that failed to parse: stripped, as rtpengine does
RTPENGINE = 23
PTIME = 24
RTCP_FB = 25
END_OF_CANDIDATES = 26
TLS_ID = 27

_SIMPLE_KINDS = {
    "mid": MID, "ptime": PTIME, "extmap": EXTMAP, "ice-pwd": ICE_PWD, "ice-lite": ICE_LITE,
    "inactive": INACTIVE, "sendrecv": SENDRECV, "sendonly": SENDONLY, "recvonly": RECVONLY,
    "rtcp-mux": RTCP_MUX, "ice-ufrag": ICE_UFRAG, "rtpengine": RTPENGINE,
    "ice-options": ICE_OPTIONS, "ice-mismatch": ICE, "remote-candidates": ICE,
    "end-of-candidates": END_OF_CANDIDATES, "tls-id": TLS_ID, "crypto": CRYPTO,
    "fingerprint": FINGERPRINT, "setup": SETUP, "group": GROUP, "ssrc": SSRC,
}
_FAMILIES = {"IP4": socket.AF_INET, "IP6": socket.AF_INET6}


@dataclass(slots=True)
class Address:
    """``<addrtype> <address>`` as written, with the offsets of that span in the text."""

    family: str  #: ``IP4`` or ``IP6``
    address: str  #: canonical text form
    start: int  #: offset of the address type token
    end: int  #: offset just after the address token

    @property
    def unspecified(self) -> bool:
        return self.address in ("0.0.0.0", "::")


@dataclass(slots=True)
class Attribute:
    start: int  #: offset of ``a=``
    end: int  #: offset after the line terminator
    name: str
    value: str | None  #: text after the first ``:`` (None when there is no colon)
    kind: int
    pt: int = -1  #: payload type of rtpmap/fmtp/rtcp-fb (-1: ``a=rtcp-fb:*``)
    param: str = ""  #: rtpmap encoding ``PCMU/8000``, fmtp parameters, rtcp-fb value
    rtcp_port: int = 0
    rtcp_address: Address | None = None


@dataclass(slots=True)
class Media:
    start: int  #: offset of ``m=``
    end: int = 0  #: offset after the last line of the section
    media_type: str = ""
    type_start: int = 0
    port: int = 0
    port_start: int = 0
    port_end: int = 0  #: the port token includes a ``/count`` suffix
    port_count: int = 1
    transport: str = ""
    transport_start: int = 0
    transport_end: int = 0
    formats: list[str] = field(default_factory=list)
    formats_text: str = ""  #: the format list as written
    formats_end: int = 0  #: end of the m= line's value (the format list runs up to here)
    connection: Address | None = None
    attributes: list[Attribute] = field(default_factory=list)
    #: The first attribute of each kind.
    kinds: dict[int, Attribute] = field(default_factory=dict)

    def first(self, kind: int) -> Attribute | None:
        return self.kinds.get(kind)

    def has(self, kind: int) -> bool:
        return kind in self.kinds


@dataclass(slots=True)
class Session:
    start: int
    end: int = 0
    username: str = ""
    username_start: int = -1
    version: str = ""
    version_start: int = -1
    version_num: int = 0
    origin_address: Address | None = None
    session_name: str = ""
    session_name_start: int = -1
    session_name_end: int = -1
    connection: Address | None = None
    attributes: list[Attribute] = field(default_factory=list)
    kinds: dict[int, Attribute] = field(default_factory=dict)
    medias: list[Media] = field(default_factory=list)

    def first(self, kind: int) -> Attribute | None:
        return self.kinds.get(kind)

    def has(self, kind: int) -> bool:
        return kind in self.kinds


@dataclass(slots=True)
class Sdp:
    text: str
    end: int  #: the body ends here (a blank line ends it early)
    sessions: list[Session]

    @property
    def medias(self) -> list[Media]:
        return [m for s in self.sessions for m in s.medias]


def parse_ip(family: str, text: str) -> str | None:
    """Canonical form of an ``IP4``/``IP6`` address, or None when it is not one."""
    af = _FAMILIES.get(family)
    if af is None:
        return None
    try:
        packed = socket.inet_pton(af, text)
    except (OSError, ValueError):
        return None
    return text if af == socket.AF_INET else socket.inet_ntop(af, packed)


def _address(nettype: str, addrtype: str, addr: str, start: int, end: int) -> Address | None:
    if nettype not in ("IN", "in"):
        return None
    canonical = parse_ip(addrtype, addr)
    if canonical is None:
        return None
    return Address(addrtype, canonical, start, end)


def _connection(value: str, base: int) -> Address:
    parts = value.split(" ", 2)
    if len(parts) < 3 or not parts[0] or not parts[1] or not parts[2]:
        raise SdpError("c= line")
    net, atype, addr = parts
    astart = base + len(net) + 1
    address = _address(net, atype, addr, astart, base + len(value))
    if address is None:
        raise SdpError("c= address")
    return address


def _int(text: str) -> int | None:
    """C ``strtol`` on a whole token: None unless it is all digits."""
    return int(text) if text.isdigit() else None


def _attribute(start: int, end: int, value_off: int, line: str) -> Attribute | None:
    """Parse ``a=`` line content ``line`` (without ``a=``); None when the attribute's own parse
    fails (it is then kept verbatim and ignored)."""
    colon = line.find(":")
    if colon < 0:
        name, value = line, None
    else:
        name, value = line[:colon], line[colon + 1:]
    kind = _SIMPLE_KINDS.get(name, OTHER)
    attr = Attribute(start, end, name, value, kind)
    if kind == OTHER:
        if name == "rtpmap":
            return _rtpmap(attr)
        if name == "fmtp":
            return _pt_param(attr, FMTP)
        if name == "rtcp-fb":
            return _rtcp_fb(attr)
        if name == "rtcp":
            return _rtcp(attr, value_off + colon + 1)
        if name == "candidate":
            return _candidate(attr)
        return attr
    if kind == GROUP and value is not None and value.startswith("BUNDLE "):
        attr.param = "BUNDLE"
    elif kind == SSRC:
        toks = (value or "").split(" ", 1)
        if not toks[0].isdigit() or int(toks[0]) == 0 or len(toks) < 2:
            return None
    return attr


def _rtpmap(attr: Attribute) -> Attribute | None:
    value = attr.value or ""
    pt_text, _, encoding = value.partition(" ")
    pt = _int(pt_text)
    if pt is None or not encoding:
        return None
    enc = encoding.split(" ", 1)[0]
    _, slash, rest = enc.partition("/")
    if not slash or not rest:
        return None
    clock = rest.split("/", 1)[0]
    if not clock.isdigit():
        return None
    attr.kind = RTPMAP
    attr.pt = pt
    attr.param = enc
    return attr


def _pt_param(attr: Attribute, kind: int) -> Attribute | None:
    pt_text, _, param = (attr.value or "").partition(" ")
    pt = _int(pt_text)
    if pt is None:
        return None
    attr.kind = kind
    attr.pt = pt
    attr.param = param
    return attr


def _rtcp_fb(attr: Attribute) -> Attribute | None:
    pt_text, _, param = (attr.value or "").partition(" ")
    if pt_text == "*":
        pt = -1
    else:
        parsed = _int(pt_text)
        if parsed is None:
            return None
        pt = parsed
    attr.kind = RTCP_FB
    attr.pt = pt
    attr.param = param
    return attr


def _rtcp(attr: Attribute, value_off: int) -> Attribute | None:
    value = attr.value
    attr.kind = IGNORE
    if not value:
        return attr
    port_text, sep, rest = value.partition(" ")
    digits = ""
    for ch in port_text:
        if not ch.isdigit():
            break
        digits += ch
    port = int(digits) if digits else 0
    if port <= 0 or port > 0xFFFF:
        return attr
    attr.kind = RTCP
    attr.rtcp_port = port
    if sep and rest:
        parts = rest.split(" ", 2)
        if len(parts) < 3 or not parts[2]:
            return None
        net, atype, addr = parts
        rest_off = value_off + len(port_text) + 1
        address = _address(net, atype, addr, rest_off + len(net) + 1, rest_off + len(rest))
        if address is None:
            return None
        attr.rtcp_address = address
    return attr


def _candidate(attr: Attribute) -> Attribute | None:
    toks = (attr.value or "").split(" ")
    if len(toks) < 8 or not toks[1].isdigit() or not toks[3].isdigit() or not toks[5].isdigit():
        return None
    if toks[6] != "typ":
        return None
    attr.kind = CANDIDATE
    attr.param = toks[7]
    return attr


def parse(text: str) -> Sdp:
    """Parse an SDP body; raises :class:`SdpError`."""
    sessions: list[Session] = []
    session: Session | None = None
    media: Media | None = None
    holder: Session | Media | None = None
    pos = 0
    end = len(text)
    for raw in text.split("\n"):
        if pos >= end - 1:
            break
        next_line = min(pos + len(raw) + 1, end)
        line = raw[:-1] if raw[-1:] == "\r" else raw
        if not line:  # blank line: the body ends here
            end = pos
            break
        if line[1:2] != "=":
            raise SdpError(f"missing '=' at offset {pos}")
        letter = line[0]
        value = line[2:]
        if letter == "a":
            if holder is None:
                raise SdpError("SDP doesn't start with a session definition")
            attr = _attribute(pos, next_line, pos + 2, value)
            if attr is not None:
                holder.attributes.append(attr)
                holder.kinds.setdefault(attr.kind, attr)
        elif letter == "m":
            if session is None:
                raise SdpError("SDP doesn't start with a session definition")
            holder = media = _media(value, pos + 2, pos)
            session.medias.append(media)
        elif letter == "c":
            if holder is None:
                raise SdpError("SDP doesn't start with a session definition")
            if holder.connection is not None:
                raise SdpError("duplicate c= line")
            holder.connection = _connection(value, pos + 2)
        elif letter == "v":
            if value != "0":
                raise SdpError("v= line")
            holder = session = Session(pos)
            sessions.append(session)
            media = None
        elif session is None:
            raise SdpError("SDP doesn't start with a session definition")
        elif letter == "o":
            if media is not None or session.username_start >= 0:
                raise SdpError("o= line")
            _origin(session, value, pos + 2)
        elif letter == "s":
            if media is not None:
                raise SdpError("s= line in a media section")
            session.session_name = value
            session.session_name_start = pos + 2
            session.session_name_end = pos + len(line)
        elif letter not in "bkiueptrz":
            raise SdpError(f"unknown line type {letter!r}")
        if media is not None:
            media.end = next_line
        else:
            session.end = next_line  # type: ignore[union-attr]
        pos = next_line
    return Sdp(text, end, sessions)


def _origin(session: Session, value: str, base: int) -> None:
    parts = value.split(" ", 5)
    if len(parts) < 6 or not parts[5]:
        raise SdpError("o= line")
    user, sid, version, net, atype, addr = parts
    vstart = base + len(user) + len(sid) + 2
    astart = vstart + len(version) + len(net) + 2
    session.username, session.username_start = user, base
    session.version, session.version_start = version, vstart
    digits = ""
    for ch in version:
        if not ch.isdigit():
            break
        digits += ch
    session.version_num = int(digits) if digits else 0
    # rtpengine parses the origin address leniently: a bad one is not an error
    aend = base + len(value)
    session.origin_address = (_address(net, atype, addr, astart, aend)
                              or Address(atype, addr, astart, aend))


def _media(value: str, base: int, start: int) -> Media:
    parts = value.split(" ", 3)
    if len(parts) < 3 or not parts[2]:
        raise SdpError("m= line")
    mtype, port_text, transport = parts[0], parts[1], parts[2]
    formats = parts[3] if len(parts) > 3 else ""
    pstart = base + len(mtype) + 1
    trstart = pstart + len(port_text) + 1
    port_digits, slash, count_text = port_text.partition("/")
    if not port_digits.isdigit() or int(port_digits) > 0xFFFF:
        raise SdpError("m= port")
    count = 1
    if slash:
        if not count_text.isdigit() or not 0 < int(count_text) <= 10:
            raise SdpError("m= port count")
        count = int(count_text)
    return Media(start=start, media_type=mtype, type_start=base, port=int(port_digits),
                 port_start=pstart, port_end=pstart + len(port_text), port_count=count,
                 transport=transport, transport_start=trstart,
                 transport_end=trstart + len(transport),
                 formats=[f for f in formats.split(" ") if f] if formats else [],
                 formats_text=formats, formats_end=base + len(value))
