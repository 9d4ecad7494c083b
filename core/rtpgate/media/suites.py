"""SRTP crypto suites and the keying parameters of one direction (RFC 4568, RFC 6188,
RFC 7714): what the relay's SRTP contexts are built from.  Parsing and negotiating ``a=crypto``
lines (SDES) is the engine's (:mod:`rtpgate.engine.sdes`); DTLS-SRTP makes these parameters
from its exporter's keys."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Suite:
    """One SRTP crypto suite (RFC 4568, RFC 6188, RFC 7714)."""

    name: str
    key_len: int  #: master key bytes
    salt_len: int  #: master salt bytes
    cipher: str  #: ``aes-cm``, ``aes-gcm``, ``aes-f8`` or ``null``
    srtp_tag: int  #: SRTP authentication tag bytes (GCM: 0, its 16-byte tag is the cipher's)
    srtcp_tag: int

    @property
    def aead(self) -> bool:
        return self.cipher == "aes-gcm"


#: rtpengine's suites, in its order (the order it offers them in).
SUITES: tuple[Suite, ...] = (
    Suite("AEAD_AES_256_GCM", 32, 12, "aes-gcm", 0, 0),
    Suite("AEAD_AES_128_GCM", 16, 12, "aes-gcm", 0, 0),
    Suite("AES_256_CM_HMAC_SHA1_80", 32, 14, "aes-cm", 10, 10),
    Suite("AES_256_CM_HMAC_SHA1_32", 32, 14, "aes-cm", 4, 10),
    Suite("AES_192_CM_HMAC_SHA1_80", 24, 14, "aes-cm", 10, 10),
    Suite("AES_192_CM_HMAC_SHA1_32", 24, 14, "aes-cm", 4, 10),
    Suite("AES_CM_128_HMAC_SHA1_80", 16, 14, "aes-cm", 10, 10),
    Suite("AES_CM_128_HMAC_SHA1_32", 16, 14, "aes-cm", 4, 10),
    Suite("F8_128_HMAC_SHA1_80", 16, 14, "aes-f8", 10, 10),
    Suite("F8_128_HMAC_SHA1_32", 16, 14, "aes-f8", 4, 10),
    Suite("NULL_HMAC_SHA1_80", 16, 14, "null", 10, 10),
    Suite("NULL_HMAC_SHA1_32", 16, 14, "null", 4, 10),
)
_BY_NAME = {suite.name.upper(): suite for suite in SUITES}
#: rtpengine's limit on an SRTP master key's lifetime (2^48 packets).
MAX_LIFETIME = 1 << 48
#: Longest MKI rtpengine accepts (bytes).
MAX_MKI = 128


def find_suite(name: str) -> Suite | None:
    """The suite called ``name`` (case-insensitive, as rtpengine)."""
    return _BY_NAME.get(name.upper())


@dataclass(frozen=True, slots=True)
class CryptoParams:
    """One ``a=crypto`` line: tag, suite, master key and salt, MKI, session parameters."""

    tag: int
    suite: Suite
    key: bytes
    salt: bytes
    mki: bytes = b""  #: the MKI value, ``len(mki)`` bytes long on the wire
    unencrypted_srtp: bool = False
    unencrypted_srtcp: bool = False
    unauthenticated_srtp: bool = False

    @classmethod
    def generate(cls, tag: int, suite: Suite) -> CryptoParams:
        """A fresh random key and salt for ``suite``."""
        return cls(tag, suite, secrets.token_bytes(suite.key_len),
                   secrets.token_bytes(suite.salt_len))

    @property
    def session_flags(self) -> tuple[bool, bool, bool]:
        return self.unencrypted_srtp, self.unencrypted_srtcp, self.unauthenticated_srtp
