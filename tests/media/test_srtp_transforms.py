"""rtpgate's own SRTP transforms (media/srtp_software.py) against the RFC test vectors and
against libsrtp (pylibsrtp) byte for byte; replay and rollover behaviour of both backends."""

from __future__ import annotations

import os
import struct

import pytest
from rtpgate.media.srtp import LibsrtpContext, context
from rtpgate.media.srtp_software import (
    AuthError,
    ReplayError,
    SoftwareContext,
    SrtpError,
    _f8,
    _Keys,
    derive,
)
from rtpgate.media.suites import SUITES, CryptoParams, find_suite

X = bytes.fromhex


@pytest.mark.parametrize(("key", "salt", "enc", "ssalt", "auth"), [
    # RFC 3711 appendix B.3 (AES-128)
    ("E1F97A0D3E018BE0D64FA32C06DE4139", "0EC675AD498AFEEBB6960B3AABE6",
     "C61E7A93744F39EE10734AFE3FF7A087", "30CBBC08863D8C85D49DB34A9AE1",
     "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"),
    # RFC 6188 section 7.2 (AES-256)
    ("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6",
     "3b04803de51ee7c96423ab5b78d2",
     "5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4",
     "fa31791685ca444a9e07c6c64e93", "fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"),
    # RFC 6188 section 7.4 (AES-192)
    ("73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1", "c8522f3acd4ce86d5add78edbb11",
     "31874736a8f1143870c26e4857d8a5b2c4a354407faadabb", "2372b82d639b6d8503a47adc0a6c",
     "355b10973cd95b9eacf4061c7e1a7151e7cfbfcb"),
], ids=["rfc3711-aes128", "rfc6188-aes256", "rfc6188-aes192"])
def test_key_derivation_vectors(key: str, salt: str, enc: str, ssalt: str, auth: str) -> None:
    assert derive(X(key), X(salt), 0, len(X(enc))) == X(enc)
    assert derive(X(key), X(salt), 1, 20) == X(auth)
    assert derive(X(key), X(salt), 2, 14) == X(ssalt)


def test_f8_vector_rfc3711_b2() -> None:
    keys = _Keys(X("234829008467be186c3de14aae72d62c"), b"", X("32f2870d"))
    iv = X("006e5cba50681de55c621599d462564a")
    plain = X("70736575646f72616e646f6d6e65737320697320746865206e6578742062657374207468696e67")
    cipher = X("019ce7a26e7854014a6366aa95d4eefd1ad4172a14f9faf455b7f1d4b62bd08f562c0eef7c4802")
    assert _f8(keys, iv, plain) == cipher
    assert _f8(keys, iv, cipher) == plain


def test_aes256_cm_sha1_80_protect_vector() -> None:
    suite = find_suite("AES_256_CM_HMAC_SHA1_80")
    assert suite is not None
    params = CryptoParams(1, suite,
                          X("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6"),
                          X("3b04803de51ee7c96423ab5b78d2"))
    plain = X("800f1234decafbadcafebabe" + "ab" * 16)
    sealed = X("800f1234decafbadcafebabe" + "f1d9de17ff251ff1aa007774"
               "b0b4b40da08d9d9a5b3a55d8873b")
    assert SoftwareContext(params).protect(plain) == sealed
    assert SoftwareContext(params).unprotect(sealed) == plain


LIBSRTP_SUITES = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM",
                  "AEAD_AES_256_GCM"]


def packet(seq: int, ssrc: int = 0x1234, size: int = 160) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) \
        + os.urandom(size)


@pytest.mark.parametrize("name", LIBSRTP_SUITES)
def test_software_equals_libsrtp_across_a_sequence_wrap(name: str) -> None:
    suite = find_suite(name)
    assert suite is not None
    params = CryptoParams.generate(1, suite)
    lib_tx, lib_rx = LibsrtpContext(params, False), LibsrtpContext(params, True)
    sw_tx, sw_rx = SoftwareContext(params), SoftwareContext(params)
    for seq in [*range(65500, 65536), *range(0, 40)]:
        plain = packet(seq)
        sealed = lib_tx.protect(plain)
        assert sw_tx.protect(plain) == sealed
        assert sw_rx.unprotect(sealed) == plain
        assert lib_rx.unprotect(sw_tx.protect(packet(seq, ssrc=0x99))) is not None
    for _ in range(5):
        rtcp = struct.pack("!BBHI", 0x81, 201, 7, 0x1234) + os.urandom(24)
        assert sw_rx.unprotect_rtcp(lib_tx.protect_rtcp(rtcp)) == rtcp
        assert lib_rx.unprotect_rtcp(sw_tx.protect_rtcp(rtcp)) == rtcp


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("variant", ["plain", "mki", "unencrypted", "unauthenticated"])
def test_every_suite_round_trips_and_rejects_tampering_and_replays(suite: object,
                                                                   variant: str) -> None:
    assert suite in SUITES
    params = CryptoParams.generate(3, suite)  # type: ignore[arg-type]
    if variant == "mki":
        params = CryptoParams(3, params.suite, params.key, params.salt, mki=b"\x00\x07")
    elif variant == "unencrypted":
        params = CryptoParams(3, params.suite, params.key, params.salt, unencrypted_srtp=True,
                              unencrypted_srtcp=True)
    elif variant == "unauthenticated":
        params = CryptoParams(3, params.suite, params.key, params.salt,
                              unauthenticated_srtp=True)
    tx, rx = context(params, False), context(params, True)
    for seq in range(20):
        plain = packet(seq)
        sealed = tx.protect(plain)
        if variant == "mki" and not params.suite.aead:
            assert sealed[-params.suite.srtp_tag - 2:-params.suite.srtp_tag] == b"\x00\x07"
        encrypted = params.suite.cipher != "null" and variant != "unencrypted"
        assert (sealed[12:172] != plain[12:]) == encrypted
        assert rx.unprotect(sealed) == plain
        with pytest.raises(ReplayError):
            rx.unprotect(sealed)
    bad = bytearray(tx.protect(packet(100)))
    bad[30] ^= 0x40
    if variant == "unauthenticated" and not params.suite.aead:
        assert rx.unprotect(bytes(bad)) != packet(100)  # nothing can tell
    else:
        with pytest.raises(AuthError):
            rx.unprotect(bytes(bad))
    rtcp = struct.pack("!BBHI", 0x81, 201, 7, 0x1234) + os.urandom(24)
    sealed = tx.protect_rtcp(rtcp)
    assert rx.unprotect_rtcp(sealed) == rtcp
    with pytest.raises(ReplayError):
        rx.unprotect_rtcp(sealed)
    with pytest.raises(SrtpError):
        rx.unprotect(b"\x80\x00\x00\x01")


def test_libsrtp_backend_maps_its_errors() -> None:
    suite = find_suite("AES_CM_128_HMAC_SHA1_80")
    assert suite is not None
    params = CryptoParams.generate(1, suite)
    ctx = context(params, True)
    assert isinstance(ctx, LibsrtpContext)
    tx = context(params, False)
    sealed = tx.protect(packet(1))
    ctx.unprotect(sealed)
    with pytest.raises(ReplayError):
        ctx.unprotect(sealed)
    bad = bytearray(tx.protect(packet(2)))
    bad[20] ^= 1
    with pytest.raises(AuthError):
        ctx.unprotect(bytes(bad))


def test_libsrtp_backend_takes_any_datagram_the_relay_reads() -> None:
    """pylibsrtp's own buffer stops at 1,500 bytes (ValueError); the relay's takes what it
    reads (4,096) and refuses more as an SrtpError, never another exception."""
    suite = find_suite("AEAD_AES_128_GCM")
    assert suite is not None
    params = CryptoParams.generate(1, suite)
    tx, rx = context(params, False), context(params, True)
    assert isinstance(tx, LibsrtpContext)
    big = packet(1, size=3000)
    assert rx.unprotect(tx.protect(big)) == big
    with pytest.raises(SrtpError):
        tx.protect(packet(2, size=4200))
    with pytest.raises(SrtpError):
        rx.unprotect(b"\x80\x00\x00\x03" + b"\x00" * 5000)
