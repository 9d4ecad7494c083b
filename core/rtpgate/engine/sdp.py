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

    def first(self, kind: int) -> Attribute | None:
        for attr in self.attributes:
            if attr.kind == kind:
                return attr
        return None

    def has(self, kind: int) -> bool:
        return any(attr.kind == kind for attr in self.attributes)


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
    medias: list[Media] = field(default_factory=list)

    def first(self, kind: int) -> Attribute | None:
        for attr in self.attributes:
            if attr.kind == kind:
                return attr
        return None


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


def _tokens(value: str, base: int, count: int) -> list[tuple[str, int]] | None:
    """The first ``count`` space-separated tokens of ``value`` and their offsets (the last one
    runs to the end); None when there are fewer."""
    out = []
    pos = 0
    n = len(value)
    for i in range(count):
        if pos >= n:
            return None
        if i == count - 1:
            out.append((value[pos:], base + pos))
            return out
        sp = value.find(" ", pos)
        if sp < 0:
            out.append((value[pos:], base + pos))
            pos = n
        else:
            out.append((value[pos:sp], base + pos))
            pos = sp + 1
    return out


def _address(nettype: str, addrtype: str, addr: str, start: int, end: int) -> Address | None:
    if nettype not in ("IN", "in"):
        return None
    canonical = parse_ip(addrtype, addr)
    if canonical is None:
        return None
    return Address(addrtype, canonical, start, end)


def _connection(value: str, base: int) -> Address:
    toks = _tokens(value, base, 3)
    if toks is None:
        raise SdpError("c= line")
    (net, _), (atype, astart), (addr, aoff) = toks
    address = _address(net, atype, addr, astart, aoff + len(addr))
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
        toks = _tokens(rest, value_off + len(port_text) + 1, 3)
        if toks is None:
            return None
        (net, _), (atype, astart), (addr, aoff) = toks
        address = _address(net, atype, addr, astart, aoff + len(addr))
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
    pos = 0
    end = len(text)
    while pos < end - 1:
        nl = text.find("\n", pos)
        if nl < 0:
            line_end = next_line = end
        else:
            next_line = nl + 1
            line_end = nl - 1 if nl > pos and text[nl - 1] == "\r" else nl
        if line_end == pos:  # blank line: the body ends here
            end = pos
            break
        letter = text[pos]
        if text[pos + 1] != "=":
            raise SdpError(f"missing '=' at offset {pos}")
        value = text[pos + 2:line_end]
        value_off = pos + 2
        if session is None and letter != "v":
            raise SdpError("SDP doesn't start with a session definition")
        if letter == "v":
            if value != "0":
                raise SdpError("v= line")
            session = Session(pos)
            sessions.append(session)
            media = None
        elif letter == "o":
            if media is not None or session.username_start >= 0:  # type: ignore[union-attr]
                raise SdpError("o= line")
            _origin(session, value, value_off)  # type: ignore[arg-type]
        elif letter == "m":
            media = _media(value, value_off, pos)
            session.medias.append(media)  # type: ignore[union-attr]
        elif letter == "c":
            target = media if media is not None else session
            if target.connection is not None:  # type: ignore[union-attr]
                raise SdpError("duplicate c= line")
            target.connection = _connection(value, value_off)  # type: ignore[union-attr]
        elif letter == "a":
            attr = _attribute(pos, next_line, value_off, value)
            if attr is not None:
                (media or session).attributes.append(attr)  # type: ignore[union-attr]
        elif letter == "s":
            if media is not None:
                raise SdpError("s= line in a media section")
            session.session_name = value  # type: ignore[union-attr]
            session.session_name_start = value_off  # type: ignore[union-attr]
            session.session_name_end = line_end  # type: ignore[union-attr]
        elif letter not in "bkiueptrz":
            raise SdpError(f"unknown line type {letter!r}")
        if media is not None:
            media.end = next_line
        else:
            session.end = next_line  # type: ignore[union-attr]
        pos = next_line
    return Sdp(text, end, sessions)


def _origin(session: Session, value: str, base: int) -> None:
    toks = _tokens(value, base, 6)
    if toks is None:
        raise SdpError("o= line")
    (user, ustart), _sid, (version, vstart), (net, _), (atype, astart), (addr, aoff) = toks
    session.username, session.username_start = user, ustart
    session.version, session.version_start = version, vstart
    digits = ""
    for ch in version:
        if not ch.isdigit():
            break
        digits += ch
    session.version_num = int(digits) if digits else 0
    # rtpengine parses the origin address leniently: a bad one is not an error
    session.origin_address = (_address(net, atype, addr, astart, aoff + len(addr))
                              or Address(atype, addr, astart, aoff + len(addr)))


def _media(value: str, base: int, start: int) -> Media:
    toks = _tokens(value, base, 4)
    if toks is None:
        toks3 = _tokens(value, base, 3)
        if toks3 is None:
            raise SdpError("m= line")
        toks = [*toks3, ("", base + len(value))]
    (mtype, tstart), (port_text, pstart), (transport, trstart), (formats, _) = toks
    port_digits, slash, count_text = port_text.partition("/")
    if not port_digits.isdigit() or int(port_digits) > 0xFFFF:
        raise SdpError("m= port")
    count = 1
    if slash:
        if not count_text.isdigit() or not 0 < int(count_text) <= 10:
            raise SdpError("m= port count")
        count = int(count_text)
    return Media(start=start, media_type=mtype, type_start=tstart, port=int(port_digits),
                 port_start=pstart, port_end=pstart + len(port_text), port_count=count,
                 transport=transport, transport_start=trstart,
                 transport_end=trstart + len(transport),
                 formats=[f for f in formats.split(" ") if f] if formats else [],
                 formats_text=formats,
                 formats_end=base + len(value))
