"""SRTP/SRTCP protection as pipeline stages (RFC 3711, RFC 7714), on libsrtp 2 via pylibsrtp.

:class:`SrtpDecrypt` is an ingress stage (what a party sends, unprotected with the party's key),
:class:`SrtpEncrypt` an egress stage (what is sent to a party, protected with rtpgate's key for
it).  libsrtp keeps the rollover counter and the replay window per SSRC; a packet that fails
authentication or is a replay is dropped, counted here, and flagged as an error so the relay
counts it against the stream too.
"""

from __future__ import annotations

import logging

import pylibsrtp

log = logging.getLogger("rtpgate.media.srtp")

#: rtpengine's suite names -> libsrtp profiles (the suites DTLS-SRTP can negotiate).
PROFILES: dict[str, int] = {
    "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


def _session(suite: str, key: bytes, salt: bytes, inbound: bool) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(
        key=key + salt, srtp_profile=PROFILES[suite],
        ssrc_type=(pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound
                   else pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    policy.allow_repeat_tx = True  # a retransmission of the same packet is re-protected
    return pylibsrtp.Session(policy)


class SrtpDecrypt:
    """Unprotects SRTP and SRTCP from one party."""

    name = "srtp-decrypt"

    def __init__(self, suite: str, key: bytes, salt: bytes) -> None:
        self.suite = suite
        self._session = _session(suite, key, salt, inbound=True)
        self.error = False
        self.packets = 0
        self.auth_failures = 0  #: failed authentication, replays, malformed

    def rtp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._session.unprotect(data)
        except pylibsrtp.Error as exc:
            self._failed(exc)
            return None
        self.packets += 1
        self.error = False
        return out

    def rtcp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._session.unprotect_rtcp(data)
        except pylibsrtp.Error as exc:
            self._failed(exc)
            return None
        self.packets += 1
        self.error = False
        return out

    def _failed(self, exc: Exception) -> None:
        self.auth_failures += 1
        self.error = True
        if self.auth_failures <= 10 or self.auth_failures % 1000 == 0:
            log.info("SRTP packet dropped (%s), %d so far", exc, self.auth_failures)
        return None


class SrtpEncrypt:
    """Protects RTP and RTCP sent to one party."""

    name = "srtp-encrypt"

    def __init__(self, suite: str, key: bytes, salt: bytes) -> None:
        self.suite = suite
        self._session = _session(suite, key, salt, inbound=False)
        self.error = False
        self.packets = 0

    def rtp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._session.protect(data)
        except pylibsrtp.Error:
            self.error = True
            return None
        self.packets += 1
        return out

    def rtcp(self, data: bytes) -> bytes | None:
        try:
            out: bytes = self._session.protect_rtcp(data)
        except pylibsrtp.Error:
            self.error = True
            return None
        self.packets += 1
        return out
