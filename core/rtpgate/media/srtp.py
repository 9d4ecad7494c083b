"""SRTP/SRTCP on the relay (RFC 3711, RFC 7714): the decrypt and encrypt stages of a stream's
pipeline, keyed by SDES or by DTLS-SRTP.

:class:`SrtpDecrypt` is an ingress stage (what a party sends, unprotected with the party's key),
:class:`SrtpEncrypt` an egress stage (what is sent to a party, protected with rtpgate's key for
it).  DTLS-SRTP (:mod:`rtpgate.engine.webrtc`) makes them from the exporter's keys
(:meth:`SrtpDecrypt.keyed`).  For SDES: a stream whose media has SDES keys
(:attr:`rtpgate.engine.model.Media.rx_crypto` / ``tx_crypto``) gets an ingress
:class:`SrtpDecrypt` stage (the key its party sends with) and an egress :class:`SrtpEncrypt`
stage (the key rtpgate gave that party); a plain side has neither, so
SRTP <-> RTP, RTP <-> SRTP and SRTP <-> SRTP with other keys all follow from the two sides'
keys.  :func:`rtpgate.engine.sdes.srtp_pipeline` is the pipeline factory; it keeps a
stage whose key did not change, so ROC and replay state survive re-INVITEs.

Backends: libsrtp 2 through ``pylibsrtp`` for the suites it exposes (AES_CM_128_HMAC_SHA1_80/32,
AEAD_AES_128/256_GCM) without MKI or session parameters, else the ``cryptography`` code in
:mod:`rtpgate.media.srtp_software`.

A packet that fails authentication or is a replay is dropped and counted: on the engine
stream's :class:`SrtpCounters` (``auth_failures``, ``replayed``,
``malformed``) and as an ingress error of the stream (``query``'s ``errors``, the interface and
server totals).  Encryption does not fail for RTP the relay already accepted; if it does (a
packet too short for its header) it is dropped and counted as ``malformed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, Self

import pylibsrtp
from pylibsrtp._binding import ffi, lib

from .srtp_software import AuthError, ReplayError, SoftwareContext, SrtpError
from .stream import RECV_SIZE
from .suites import CryptoParams, find_suite

#: Bytes of libsrtp's work buffer: the largest datagram the relay reads, and a trailer.
BUFFER = RECV_SIZE + pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN

log = logging.getLogger("rtpgate.media")

#: rtpengine's suite names -> libsrtp profiles (also the suites DTLS-SRTP can negotiate).
PROFILES: dict[str, int] = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}


@dataclass(slots=True)
class SrtpCounters:
    """What the relay's SDES-SRTP stages of one stream did (drops are also in ``stats_in``'s
    errors)."""

    decrypted: int = 0
    encrypted: int = 0
    #: failed authentication (or a GCM tag): dropped
    auth_failures: int = 0
    #: replayed (or older than the replay window): dropped
    replayed: int = 0
    #: too short for its suite's tag, or otherwise not SRTP: dropped
    malformed: int = 0


class Context(Protocol):
    def protect(self, data: bytes) -> bytes: ...
    def unprotect(self, data: bytes) -> bytes: ...
    def protect_rtcp(self, data: bytes) -> bytes: ...
    def unprotect_rtcp(self, data: bytes) -> bytes: ...


class LibsrtpContext:
    """A libsrtp session made by pylibsrtp, called through its cffi binding.

    pylibsrtp's ``Session.protect`` allocates an ``int *`` and checks its argument on every
    call, and its buffer takes at most 1,500 bytes (a longer packet raises ``ValueError``).
    The relay calls libsrtp's ``srtp_protect``/``srtp_unprotect`` itself instead, on a buffer
    of its own that holds any datagram it reads: measured 4.1 against 6.4-8.3 us per packet
    on the loaded test machine.  Errors keep pylibsrtp's texts and become :class:`SrtpError`
    kinds."""

    def __init__(self, params: CryptoParams, inbound: bool) -> None:
        policy = pylibsrtp.Policy(
            key=params.key + params.salt,
            ssrc_type=(pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound
                       else pylibsrtp.Policy.SSRC_ANY_OUTBOUND),
            srtp_profile=PROFILES[params.suite.name])
        policy.allow_repeat_tx = True  # a retransmitted packet is sent again, same bytes
        self._session = pylibsrtp.Session(policy)  # owns (and frees) the libsrtp context
        self._srtp = self._session._srtp[0]
        self._cdata = ffi.new("char[]", BUFFER)
        self._buffer = ffi.buffer(self._cdata)
        self._length = ffi.new("int *")

    def _run(self, func: Any, data: bytes, trailer: int) -> bytes:
        size = len(data)
        if size > BUFFER - trailer:
            raise SrtpError(f"packet of {size} bytes is too long")
        self._length[0] = size
        buffer = self._buffer
        buffer[0:size] = data
        status = func(self._srtp, self._cdata, self._length)
        if status:
            text = pylibsrtp.ERRORS[status] if status < len(pylibsrtp.ERRORS) else str(status)
            if "auth" in text:
                raise AuthError(text)
            if "replay" in text:
                raise ReplayError(text)
            raise SrtpError(text)
        out: bytes = buffer[0:self._length[0]]
        return out

    def protect(self, data: bytes) -> bytes:
        return self._run(lib.srtp_protect, data, pylibsrtp.SRTP_MAX_TRAILER_LEN)

    def unprotect(self, data: bytes) -> bytes:
        return self._run(lib.srtp_unprotect, data, 0)

    def protect_rtcp(self, data: bytes) -> bytes:
        return self._run(lib.srtp_protect_rtcp, data, pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN)

    def unprotect_rtcp(self, data: bytes) -> bytes:
        return self._run(lib.srtp_unprotect_rtcp, data, 0)


def context(params: CryptoParams, inbound: bool) -> Context:
    """The backend for ``params`` (see the module docstring)."""
    if params.suite.name in PROFILES and not params.mki and not any(params.session_flags):
        return LibsrtpContext(params, inbound)
    return SoftwareContext(params)


class _Stage:
    name = ""
    inbound = False
    __slots__ = ("context", "counters", "error", "params")

    def __init__(self, params: CryptoParams, counters: SrtpCounters | None = None) -> None:
        self.params = params
        #: Where it counts (the engine stream's, so query/CLI/Redis see them).
        self.counters = SrtpCounters() if counters is None else counters
        self.context = context(params, self.inbound)
        self.error = False

    @classmethod
    def keyed(cls, suite: str, key: bytes, salt: bytes,
              counters: SrtpCounters | None = None) -> Self:
        """A stage for a suite named as rtpengine names it and a raw key and salt (DTLS-SRTP's
        exporter keys)."""
        found = find_suite(suite)
        if found is None:
            raise ValueError(f"unknown SRTP suite {suite}")
        return cls(CryptoParams(0, found, key, salt), counters)

    def _failed(self, exc: SrtpError) -> None:
        counters = self.counters
        if exc.kind == "auth":
            counters.auth_failures += 1
        elif exc.kind == "replay":
            counters.replayed += 1
        else:
            counters.malformed += 1
        self.error = True
        dropped = counters.auth_failures + counters.replayed + counters.malformed
        if dropped <= 10 or dropped % 1000 == 0:
            log.info("%s (%s) dropped a packet (%s: %s), %d so far on this stream", self.name,
                     self.params.suite.name, exc.kind, exc, dropped)


class SrtpDecrypt(_Stage):
    """Ingress: SRTP/SRTCP from the party -> RTP/RTCP."""

    name = "srtp-decrypt"
    inbound = True
    __slots__ = ()

    def rtp(self, data: bytes) -> bytes | None:
        try:
            out = self.context.unprotect(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.counters.decrypted += 1
        self.error = False
        return out

    def rtcp(self, data: bytes) -> bytes | None:
        try:
            out = self.context.unprotect_rtcp(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.counters.decrypted += 1
        self.error = False
        return out


class SrtpEncrypt(_Stage):
    """Egress: RTP/RTCP -> SRTP/SRTCP for the party."""

    name = "srtp-encrypt"
    __slots__ = ()

    def rtp(self, data: bytes) -> bytes | None:
        try:
            out = self.context.protect(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.counters.encrypted += 1
        return out

    def rtcp(self, data: bytes) -> bytes | None:
        try:
            out = self.context.protect_rtcp(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.counters.encrypted += 1
        return out
