"""SRTP and SRTCP (RFC 3711) for what libsrtp's Python binding does not offer, on ``cryptography``.

``pylibsrtp`` (libsrtp 2 in its wheel) exposes four profiles: AES_CM_128_HMAC_SHA1_80/32 and
AEAD_AES_128/256_GCM, without MKI or the ``UNENCRYPTED_SRTP``/``UNENCRYPTED_SRTCP``/
``UNAUTHENTICATED_SRTP`` session parameters.  rtpengine also speaks AES_192/256_CM (RFC 6188),
F8_128 (RFC 3711 section 4.1.2) and NULL_HMAC_SHA1 suites, MKIs and those parameters, so this
module implements the transforms with ``cryptography``'s AES (ECB, CTR, GCM) and HMAC-SHA1:

* key derivation: the AES-CM PRF of RFC 3711 section 4.3 (key derivation rate 0), with the
  master key's AES (128/192/256, RFC 6188); for GCM the 96-bit salt is zero-padded to 112 bits
  as libsrtp does (RFC 7714 section 11);
* AES-CM: AES-CTR with IV = salt * 2^16 XOR SSRC * 2^64 XOR index * 2^16;
* AES-F8: IV' = E(k_e XOR (k_s || 0x55...), IV), S(j) = E(k_e, IV' XOR j XOR S(j-1));
* AES-GCM (RFC 7714): 12-byte IV = salt XOR (0 || SSRC || ROC || SEQ) (RTP) or
  (0 || SSRC || 0 || index) (RTCP), the header (and the SRTCP index) as associated data;
* HMAC-SHA1 over the authenticated portion and the ROC (RTP) or the E flag and index (RTCP),
  truncated to the suite's tag; an MKI sits between the encrypted portion and the tag;
* the rollover counter estimate of RFC 3711 appendix A and a 128-packet replay window per SSRC.

Each context handles one direction of one stream (``inbound``: it decrypts, keeps per-SSRC ROC
and replay state; outbound: it encrypts, keeps per-SSRC ROC and the SRTCP index).  Tests check it
against pylibsrtp for the suites both have and against the RFC test vectors for the others.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .suites import CryptoParams

#: Packets remembered behind the highest index for replay protection (libsrtp's default).
REPLAY_WINDOW = 128
_GCM_TAG = 16


class SrtpError(Exception):
    """A packet this context cannot use; :attr:`kind` says why."""

    kind = "malformed"


class AuthError(SrtpError):
    kind = "auth"


class ReplayError(SrtpError):
    kind = "replay"


def _ecb(key: bytes) -> Cipher[modes.ECB]:
    return Cipher(algorithms.AES(key), modes.ECB())


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def derive(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 section 4.3.1 with key derivation rate 0: AES-CM keyed with the master key,
    IV = (salt XOR label << 48) * 2^16."""
    salt = master_salt.ljust(14, b"\0")
    x = int.from_bytes(salt, "big") ^ (label << 48)
    iv = (x << 16).to_bytes(16, "big")
    return _ctr(master_key, iv, b"\0" * length)


@dataclass(slots=True)
class _Keys:
    enc: bytes
    auth: bytes
    salt: bytes


def _keys(params: CryptoParams, rtcp: bool) -> _Keys:
    suite = params.suite
    base = 3 if rtcp else 0
    enc_len = 0 if suite.cipher == "null" else suite.key_len
    salt_len = 12 if suite.aead else 14
    auth_len = 0 if suite.aead else 20
    return _Keys(derive(params.key, params.salt, base, enc_len) if enc_len else b"",
                 derive(params.key, params.salt, base + 1, auth_len) if auth_len else b"",
                 derive(params.key, params.salt, base + 2, salt_len))


def _f8(keys: _Keys, iv: bytes, data: bytes) -> bytes:
    """AES-F8 keystream XOR ``data`` (RFC 3711 section 4.1.2.1)."""
    mask = keys.salt + b"\x55" * (len(keys.enc) - len(keys.salt))
    masked = bytes(a ^ b for a, b in zip(keys.enc, mask, strict=True))
    iv_prime = _ecb(masked).encryptor().update(iv)
    encryptor = _ecb(keys.enc).encryptor()
    out = bytearray()
    block = bytes(16)
    ivp = int.from_bytes(iv_prime, "big")
    for j in range((len(data) + 15) // 16):
        block = encryptor.update((ivp ^ j ^ int.from_bytes(block, "big")).to_bytes(16, "big"))
        out += block
    stream = int.from_bytes(out[:len(data)], "big") if data else 0
    return (int.from_bytes(data, "big") ^ stream).to_bytes(len(data), "big")


def _cm_iv(salt: bytes, ssrc: int, index: int) -> bytes:
    return ((int.from_bytes(salt, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
            ).to_bytes(16, "big")


def _rtp_header_len(data: bytes) -> int:
    if len(data) < 12 or data[0] & 0xC0 != 0x80:
        raise SrtpError("not RTP")
    size = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if size + 4 > len(data):
            raise SrtpError("truncated header extension")
        size += 4 + 4 * int.from_bytes(data[size + 2:size + 4], "big")
    if size > len(data):
        raise SrtpError("truncated header")
    return size


@dataclass(slots=True)
class _SsrcState:
    roc: int = 0
    highest: int = -1  #: highest sequence number seen (-1: none yet)
    window: int = 0  #: bit i: index (highest_index - i) was received
    rtcp_index: int = 0  #: outbound: the next SRTCP index


class SoftwareContext:
    """One direction of SRTP+SRTCP for one set of SDES parameters."""

    def __init__(self, params: CryptoParams) -> None:
        self.params = params
        self.suite = params.suite
        self._rtp = _keys(params, False)
        self._rtcp = _keys(params, True)
        self._ssrcs: dict[int, _SsrcState] = {}
        self._rtcp_seen: dict[int, tuple[int, int]] = {}  #: ssrc -> (highest, window)
        self._gcm = (AESGCM(self._rtp.enc), AESGCM(self._rtcp.enc)) if self.suite.aead else None

    # ------------------------------------------------------------------ RTP

    def rocs(self, ssrcs: Iterable[int]) -> dict[int, int]:
        """The rollover counter of each of ``ssrcs`` seen."""
        return {ssrc: self._ssrcs[ssrc].roc for ssrc in ssrcs if ssrc in self._ssrcs}

    def set_rocs(self, rocs: dict[int, int]) -> None:
        """Carry on SSRCs whose rollover counters are known (before their first packet)."""
        for ssrc, roc in rocs.items():
            self._state(ssrc).roc = roc & 0xFFFFFFFF

    def _state(self, ssrc: int) -> _SsrcState:
        state = self._ssrcs.get(ssrc)
        if state is None:
            state = self._ssrcs[ssrc] = _SsrcState()
        return state

    def _cipher(self, keys: _Keys, data: bytes, ssrc: int, index: int, f8_iv: bytes) -> bytes:
        cipher = self.suite.cipher
        if cipher == "aes-cm":
            return _ctr(keys.enc, _cm_iv(keys.salt, ssrc, index), data)
        if cipher == "aes-f8":
            return _f8(keys, f8_iv, data)
        return data  # null

    def protect(self, data: bytes) -> bytes:
        """Encrypt and authenticate an RTP packet."""
        head = _rtp_header_len(data)
        seq, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
        state = self._state(ssrc)
        roc = self._sender_roc(state, seq)
        index = (roc << 16) | seq
        params = self.params
        if self._gcm is not None:
            iv = self._gcm_iv(self._rtp.salt, ssrc, roc, seq)
            if params.unencrypted_srtp:  # RFC 7714 section 14: authentication only
                return data + self._gcm[0].encrypt(iv, b"", data) + params.mki
            sealed = self._gcm[0].encrypt(iv, data[head:], data[:head])
            return data[:head] + sealed + params.mki
        payload = data[head:]
        if not params.unencrypted_srtp:
            f8_iv = b"\0" + data[1:12] + roc.to_bytes(4, "big")
            payload = self._cipher(self._rtp, payload, ssrc, index, f8_iv)
        out = data[:head] + payload
        if params.unauthenticated_srtp:
            return out + params.mki
        tag = hmac.new(self._rtp.auth, out + roc.to_bytes(4, "big"), hashlib.sha1).digest()
        return out + params.mki + tag[:self.suite.srtp_tag]

    def unprotect(self, data: bytes) -> bytes:
        """Check, decrypt and replay-check an SRTP packet."""
        params = self.params
        tag_len = _GCM_TAG if self.suite.aead else (
            0 if params.unauthenticated_srtp else self.suite.srtp_tag)
        trailer = len(params.mki) + (0 if self.suite.aead else tag_len)
        head = _rtp_header_len(data)
        if len(data) - trailer < head + (tag_len if self.suite.aead else 0):
            raise SrtpError("too short for its suite")
        seq, ssrc = struct.unpack_from("!H", data, 2)[0], struct.unpack_from("!I", data, 8)[0]
        state = self._ssrcs.get(ssrc) or _SsrcState()
        roc = self._estimate(state, seq)
        index = (roc << 16) | seq
        self._replay_check(state, index)
        if self._gcm is not None:
            end = len(data) - len(params.mki)
            iv = self._gcm_iv(self._rtp.salt, ssrc, roc, seq)
            try:
                if params.unencrypted_srtp:
                    self._gcm[0].decrypt(iv, data[end - _GCM_TAG:end], data[:end - _GCM_TAG])
                    payload = data[head:end - _GCM_TAG]
                else:
                    payload = self._gcm[0].decrypt(iv, data[head:end], data[:head])
            except InvalidTag:
                raise AuthError("GCM tag") from None
        else:
            body_end = len(data) - trailer
            if tag_len:
                tag = data[len(data) - tag_len:]
                mac = hmac.new(self._rtp.auth, data[:body_end] + roc.to_bytes(4, "big"),
                               hashlib.sha1).digest()[:tag_len]
                if not hmac.compare_digest(mac, tag):
                    raise AuthError("HMAC")
            payload = data[head:body_end]
            if not params.unencrypted_srtp:
                f8_iv = b"\0" + data[1:12] + roc.to_bytes(4, "big")
                payload = self._cipher(self._rtp, payload, ssrc, index, f8_iv)
        self._accept(ssrc, state, roc, seq, index)
        return data[:head] + payload

    @staticmethod
    def _sender_roc(state: _SsrcState, seq: int) -> int:
        """The ROC for an outgoing ``seq``: counts up when the sequence number wraps; a late
        packet from before the wrap keeps the previous ROC."""
        if state.highest < 0:
            state.highest = seq
        elif seq > state.highest:
            if seq - state.highest < 0x8000:
                state.highest = seq
            elif state.roc:
                return state.roc - 1
        elif state.highest - seq > 0x8000:
            state.roc = (state.roc + 1) & 0xFFFFFFFF
            state.highest = seq
        return state.roc

    @staticmethod
    def _gcm_iv(salt: bytes, ssrc: int, roc: int, seq: int) -> bytes:
        base = b"\0\0" + ssrc.to_bytes(4, "big") + roc.to_bytes(4, "big") + seq.to_bytes(2, "big")
        return bytes(a ^ b for a, b in zip(base, salt, strict=True))

    @staticmethod
    def _estimate(state: _SsrcState, seq: int) -> int:
        """RFC 3711 appendix A: the ROC the sender used for ``seq``."""
        if state.highest < 0:
            return state.roc
        if state.highest < 0x8000:
            if seq - state.highest > 0x8000:
                return (state.roc - 1) & 0xFFFFFFFF
            return state.roc
        if state.highest - 0x8000 > seq:
            return (state.roc + 1) & 0xFFFFFFFF
        return state.roc

    @staticmethod
    def _replay_check(state: _SsrcState, index: int) -> None:
        if state.highest < 0:
            return
        top = (state.roc << 16) | state.highest
        if index > top:
            return
        behind = top - index
        if behind >= REPLAY_WINDOW or state.window >> behind & 1:
            raise ReplayError(f"index {index}")

    def _accept(self, ssrc: int, state: _SsrcState, roc: int, seq: int, index: int) -> None:
        self._ssrcs[ssrc] = state
        if state.highest < 0:
            state.roc, state.highest, state.window = roc, seq, 1
            return
        top = (state.roc << 16) | state.highest
        if index > top:
            shift = index - top
            state.window = ((state.window << shift) | 1) & ((1 << REPLAY_WINDOW) - 1)
            state.roc, state.highest = roc, seq
        else:
            state.window |= 1 << (top - index)

    # ------------------------------------------------------------------ RTCP

    def protect_rtcp(self, data: bytes) -> bytes:
        """Encrypt and authenticate an RTCP compound packet (SRTCP index counts up)."""
        if len(data) < 8:
            raise SrtpError("RTCP too short")
        ssrc = struct.unpack_from("!I", data, 4)[0]
        state = self._state(ssrc)
        index = state.rtcp_index
        state.rtcp_index = (index + 1) & 0x7FFFFFFF
        params = self.params
        encrypt = not params.unencrypted_srtcp and self.suite.cipher != "null"
        e_index = ((0x80000000 if encrypt else 0) | index).to_bytes(4, "big")
        if self._gcm is not None:
            iv = self._gcm_rtcp_iv(ssrc, index)
            if encrypt:
                sealed = self._gcm[1].encrypt(iv, data[8:], data[:8] + e_index)
                return data[:8] + sealed + e_index + params.mki
            tag = self._gcm[1].encrypt(iv, b"", data + e_index)
            return data + tag + e_index + params.mki
        body = data[8:]
        if encrypt:
            f8_iv = b"\0\0\0\0" + e_index + data[:8]
            body = self._cipher(self._rtcp, body, ssrc, index, f8_iv)
        out = data[:8] + body + e_index
        tag = hmac.new(self._rtcp.auth, out, hashlib.sha1).digest()[:self.suite.srtcp_tag]
        return out + params.mki + tag

    def unprotect_rtcp(self, data: bytes) -> bytes:
        """Check, decrypt and replay-check an SRTCP packet."""
        params = self.params
        gcm = self._gcm
        aead = gcm is not None
        tag_len = 0 if aead else self.suite.srtcp_tag
        end = len(data) - tag_len - len(params.mki)
        if end - 4 < 8 + (_GCM_TAG if aead else 0):
            raise SrtpError("SRTCP too short")
        e_index = data[end - 4:end]
        flagged = int.from_bytes(e_index, "big")
        encrypted, index = bool(flagged >> 31), flagged & 0x7FFFFFFF
        ssrc = struct.unpack_from("!I", data, 4)[0]
        highest, window = self._rtcp_seen.get(ssrc, (-1, 0))
        if highest >= 0 and index <= highest and (
                highest - index >= REPLAY_WINDOW or window >> (highest - index) & 1):
            raise ReplayError(f"SRTCP index {index}")
        if gcm is not None:
            iv = self._gcm_rtcp_iv(ssrc, index)
            try:
                if encrypted:
                    body = gcm[1].decrypt(iv, data[8:end - 4], data[:8] + e_index)
                else:
                    gcm[1].decrypt(iv, data[end - 4 - _GCM_TAG:end - 4],
                                         data[:end - 4 - _GCM_TAG] + e_index)
                    body = data[8:end - 4 - _GCM_TAG]
            except InvalidTag:
                raise AuthError("GCM tag") from None
        else:
            tag = data[len(data) - tag_len:]
            mac = hmac.new(self._rtcp.auth, data[:end], hashlib.sha1).digest()[:tag_len]
            if not hmac.compare_digest(mac, tag):
                raise AuthError("HMAC")
            body = data[8:end - 4]
            if encrypted:
                f8_iv = b"\0\0\0\0" + e_index + data[:8]
                body = self._cipher(self._rtcp, body, ssrc, index, f8_iv)
        if highest < 0 or index > highest:
            shift = index - highest if highest >= 0 else REPLAY_WINDOW
            window = ((window << shift) | 1) & ((1 << REPLAY_WINDOW) - 1)
            highest = index
        else:
            window |= 1 << (highest - index)
        self._rtcp_seen[ssrc] = (highest, window)
        return data[:8] + body

    def _gcm_rtcp_iv(self, ssrc: int, index: int) -> bytes:
        base = b"\0\0" + ssrc.to_bytes(4, "big") + b"\0\0" + index.to_bytes(4, "big")
        return bytes(a ^ b for a, b in zip(base, self._rtcp.salt, strict=True))
