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
keys.  :func:`rtpgate.engine.sdes.srtp_pipeline` makes the stages; it keeps a stage whose
key did not change, so ROC and replay state survive re-INVITEs.  The pipeline factory,
:class:`rtpgate.engine.sdes.SrtpPipelines`, gives no stage at all where the two parties'
keys passed unchanged both ways and nothing must read the audio (rtpengine relays that SRTP
as it is).

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

import ctypes
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, Self

import pylibsrtp
from pylibsrtp import _binding
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
    def rocs(self, ssrcs: Iterable[int]) -> dict[int, int]: ...
    def set_rocs(self, rocs: dict[int, int]) -> None: ...


@functools.cache
def _roc_calls() -> tuple[Any, Any]:
    """libsrtp's ``srtp_get_stream_roc`` and ``srtp_set_stream_roc``.  The library pylibsrtp
    bundles exports them but its cffi declarations leave them out, so they are called through
    ctypes on the same (already loaded) library."""
    library = ctypes.CDLL(_binding.__file__)
    get = library.srtp_get_stream_roc
    get.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)]
    get.restype = ctypes.c_int
    put = library.srtp_set_stream_roc
    put.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32]
    put.restype = ctypes.c_int
    return get, put


class LibsrtpContext:
    """A libsrtp session made by pylibsrtp, called through its cffi binding.

    pylibsrtp's ``Session.protect`` allocates an ``int *`` and checks its argument on every
    call, and its buffer takes at most 1,500 bytes (a longer packet raises ``ValueError``).
    The relay calls libsrtp's ``srtp_protect``/``srtp_unprotect`` itself instead, on a buffer
    of its own that holds any datagram it reads: measured 4.1 against 6.4-8.3 us per packet
    on the loaded test machine.  Each operation is a closure over the session and the buffer
    (1.22 against 1.40 us per stage call with attribute lookups, quiet moment, 200,000
    packets).  Errors keep pylibsrtp's texts and become :class:`SrtpError` kinds."""

    def __init__(self, params: CryptoParams, inbound: bool) -> None:
        self._params = params
        policy = self._policy(pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound
                              else pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self._session = pylibsrtp.Session(policy)  # owns (and frees) the libsrtp context
        self._srtp = self._session._srtp[0]
        self._cdata = ffi.new("char[]", BUFFER)
        self._buffer = ffi.buffer(self._cdata)
        self._length = ffi.new("int *")
        self.protect: Callable[[bytes], bytes] = self._call(
            lib.srtp_protect, pylibsrtp.SRTP_MAX_TRAILER_LEN)
        self.unprotect: Callable[[bytes], bytes] = self._call(lib.srtp_unprotect, 0)
        self.protect_rtcp: Callable[[bytes], bytes] = self._call(
            lib.srtp_protect_rtcp, pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN)
        self.unprotect_rtcp: Callable[[bytes], bytes] = self._call(lib.srtp_unprotect_rtcp, 0)

    def native(self, inbound: bool) -> tuple[int, int]:
        """``(session, function)`` addresses for the native reader (:mod:`.native`), which
        calls libsrtp's ``srtp_unprotect`` (``inbound``) or ``srtp_protect`` on RTP itself: the
        same session, so keys, rollover counters and the replay window are shared."""
        name = "srtp_unprotect" if inbound else "srtp_protect"
        return (int(ffi.cast("uintptr_t", self._srtp)),
                int(ffi.cast("uintptr_t", ffi.addressof(lib, name))))

    def _call(self, func: Any, trailer: int) -> Callable[[bytes], bytes]:
        """One of the four operations, as a closure over the session and its buffer (no
        attribute lookups per packet)."""
        srtp, cdata, buffer, length = self._srtp, self._cdata, self._buffer, self._length
        limit = BUFFER - trailer

        def run(data: bytes) -> bytes:
            size = len(data)
            if size > limit:
                raise SrtpError(f"packet of {size} bytes is too long")
            length[0] = size
            buffer[0:size] = data
            status = func(srtp, cdata, length)
            if status:
                raise _error(status)
            out: bytes = buffer[0:length[0]]
            return out

        return run

    def _policy(self, ssrc_type: int, ssrc: int = 0) -> pylibsrtp.Policy:
        params = self._params
        policy = pylibsrtp.Policy(key=params.key + params.salt, ssrc_type=ssrc_type,
                                  ssrc_value=ssrc, srtp_profile=PROFILES[params.suite.name])
        policy.allow_repeat_tx = True  # a retransmitted packet is sent again, same bytes
        return policy

    def rocs(self, ssrcs: Iterable[int]) -> dict[int, int]:
        """The rollover counter of each of ``ssrcs`` this session has seen."""
        get = _roc_calls()[0]
        session = int(ffi.cast("uintptr_t", self._srtp))
        roc = ctypes.c_uint32()
        found = {}
        for ssrc in ssrcs:
            if get(session, ssrc, ctypes.byref(roc)) == 0:
                found[ssrc] = roc.value
        return found

    def set_rocs(self, rocs: dict[int, int]) -> None:
        """Carry on SSRCs whose rollover counters are known (a restored call): each gets its
        own libsrtp stream, made before its first packet, with that counter."""
        put = _roc_calls()[1]
        session = int(ffi.cast("uintptr_t", self._srtp))
        for ssrc, roc in rocs.items():
            if not roc:
                continue
            try:
                self._session.add_stream(self._policy(pylibsrtp.Policy.SSRC_SPECIFIC, ssrc))
            except pylibsrtp.Error as exc:
                log.info("SRTP: no stream for SSRC %#x (%s)", ssrc, exc)
                continue
            put(session, ssrc, roc)


def _error(status: int) -> SrtpError:
    text = pylibsrtp.ERRORS[status] if status < len(pylibsrtp.ERRORS) else str(status)
    if "auth" in text:
        return AuthError(text)
    if "replay" in text:
        return ReplayError(text)
    return SrtpError(text)


def context(params: CryptoParams, inbound: bool) -> Context:
    """The backend for ``params`` (see the module docstring)."""
    if params.suite.name in PROFILES and not params.mki and not any(params.session_flags):
        return LibsrtpContext(params, inbound)
    return SoftwareContext(params)


class _Stage:
    """One SRTP direction; :class:`SrtpDecrypt` and :class:`SrtpEncrypt` differ only in which
    context calls ``rtp`` and ``rtcp`` make (bound once here, so a packet costs one Python
    call into the context, measured no slower than the two copies this replaced)."""

    name = ""
    inbound = False
    __slots__ = ("_rtcp", "_rtp", "context", "counters", "error", "native", "params")

    def __init__(self, params: CryptoParams, counters: SrtpCounters | None = None) -> None:
        self.params = params
        #: Where it counts (the engine stream's, so query/CLI/Redis see them).
        self.counters = SrtpCounters() if counters is None else counters
        self.context = context(params, self.inbound)
        self.error = False
        ctx = self.context
        self._rtp = ctx.unprotect if self.inbound else ctx.protect
        self._rtcp = ctx.unprotect_rtcp if self.inbound else ctx.protect_rtcp
        #: libsrtp's session and RTP function for the native reader (``None``: a suite done
        #: in Python, which keeps the stream's packets in Python).
        self.native = (ctx.native(self.inbound) if isinstance(ctx, LibsrtpContext)
                       else None)

    def rocs(self, ssrcs: Iterable[int]) -> dict[int, int]:
        """Rollover counters per SSRC (of ``ssrcs``, those this stage has seen)."""
        return self.context.rocs(ssrcs)

    def resume(self, rocs: dict[int, int]) -> None:
        """Carry on with these rollover counters per SSRC (before any packet of theirs)."""
        self.context.set_rocs(rocs)

    @classmethod
    def keyed(cls, suite: str, key: bytes, salt: bytes,
              counters: SrtpCounters | None = None) -> Self:
        """A stage for a suite named as rtpengine names it and a raw key and salt (DTLS-SRTP's
        exporter keys)."""
        found = find_suite(suite)
        if found is None:
            raise ValueError(f"unknown SRTP suite {suite}")
        return cls(CryptoParams(0, found, key, salt), counters)

    def rtp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._rtp(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.error = False
        return out

    def rtcp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._rtcp(data)
        except SrtpError as exc:
            self._failed(exc)
            return None
        self.error = False
        return out

    def native_failed(self, status: int) -> None:
        """The native reader's libsrtp call for this stage returned ``status``: counted as a
        failure here is."""
        self._failed(_error(status))

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


class SrtpEncrypt(_Stage):
    """Egress: RTP/RTCP -> SRTP/SRTCP for the party."""

    name = "srtp-encrypt"
    __slots__ = ()
