"""DTLS-SRTP (RFC 5763, RFC 5764, RFC 8842) on a relay stream's own media socket.

The server makes one certificate at startup (:func:`make_certificate`, from rtpengine's
``--dtls-cert-cipher``, ``--dtls-rsa-key-size`` and ``--dtls-signature`` options) and advertises
its fingerprint in every ``a=fingerprint`` it writes.  Each stream that negotiated DTLS gets a
:class:`DtlsSession`: a pyOpenSSL ``Connection`` on memory BIOs, so the handshake's datagrams
travel over the stream's socket like its RTP (the relay hands over every datagram whose first
byte is 20-63, RFC 7983).  The session:

* plays the role the SDP gave (``a=setup``: ``active`` is the DTLS client and starts with its
  ClientHello, ``passive`` waits for one);
* retransmits lost flights with OpenSSL's own DTLS timer (``DTLSv1_get_timeout`` /
  ``DTLSv1_handle_timeout``), and gives up after :data:`HANDSHAKE_TIMEOUT` seconds;
* once the handshake is done, checks the peer's certificate against the ``a=fingerprint`` of its
  SDP (a mismatch fails this stream only) and derives the SRTP keys with the exporter
  (``EXTRACTOR-dtls_srtp``, RFC 5764 section 4.2) for the profile OpenSSL selected.

Bad datagrams (garbage, records that fail to decrypt, a second ClientHello after failure) are
ignored and counted; nothing in here raises into the relay's read loop.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from OpenSSL import SSL

if TYPE_CHECKING:
    from .stream import Address, RelayStream

log = logging.getLogger("rtpgate.media.dtls")

#: ``a=fingerprint`` hash names (RFC 8122), as rtpengine spells them, and their hashlib names.
HASHES: dict[str, str] = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256",
                          "sha-384": "sha384", "sha-512": "sha512"}
#: rtpengine's default ``--dtls-ciphers``.
DEFAULT_CIPHERS = "DEFAULT:!NULL:!aNULL:!SHA256:!SHA384:!aECDH:!AESGCM+AES256:!aPSK"
#: A handshake not finished this many seconds after it started fails (RFC 6347 leaves the
#: limit to the application; OpenSSL would back off to 60 s per flight forever).
HANDSHAKE_TIMEOUT = 30.0


class SrtpProfile(NamedTuple):
    """An SRTP protection profile that DTLS can negotiate (RFC 5764, RFC 7714)."""

    openssl: str  #: OpenSSL's name, as ``set_tlsext_use_srtp`` takes it
    suite: str  #: rtpengine's / SDES's crypto suite name
    key_length: int
    salt_length: int


#: What rtpgate offers, in order of preference (rtpengine's order).
PROFILES: tuple[SrtpProfile, ...] = (
    SrtpProfile("SRTP_AEAD_AES_256_GCM", "AEAD_AES_256_GCM", 32, 12),
    SrtpProfile("SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM", 16, 12),
    SrtpProfile("SRTP_AES128_CM_SHA1_80", "AES_CM_128_HMAC_SHA1_80", 16, 14),
    SrtpProfile("SRTP_AES128_CM_SHA1_32", "AES_CM_128_HMAC_SHA1_32", 16, 14),
)
_BY_OPENSSL = {p.openssl.encode(): p for p in PROFILES}


@dataclass(frozen=True, slots=True)
class DtlsOptions:
    """rtpengine's ``--dtls-*`` options."""

    cert_cipher: str = "prime256v1"  #: ``prime256v1`` (ECDSA P-256) or ``RSA``
    rsa_key_size: int = 2048
    #: The hash the certificate is signed with.
    signature: str = "sha-256"
    ciphers: str = DEFAULT_CIPHERS
    mtu: int = 1200


_SIGNING: dict[str, Any] = {
    "sha-1": hashes.SHA1, "sha-224": hashes.SHA224, "sha-256": hashes.SHA256,
    "sha-384": hashes.SHA384, "sha-512": hashes.SHA512}


def normalize_hash(name: str) -> str | None:
    """``SHA-256``, ``sha256`` -> ``sha-256``; ``None`` for an unknown hash."""
    text = name.strip().lower()
    if text in HASHES:
        return text
    for known in HASHES:
        if text == known.replace("-", ""):
            return known
    return None


def fingerprint(der: bytes, hash_name: str) -> str:
    """The ``a=fingerprint`` value of a DER certificate: upper-case hex pairs joined by ``:``."""
    digest = hashlib.new(HASHES[hash_name], der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


@dataclass(eq=False)
class Certificate:
    """The server's DTLS certificate and key (made once, at startup)."""

    options: DtlsOptions
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate
    der: bytes
    #: Fingerprints by hash name, computed once.
    fingerprints: dict[str, str] = field(default_factory=dict)

    def fingerprint(self, hash_name: str | None = None) -> tuple[str, str]:
        """``(hash, value)`` for ``a=fingerprint`` (sha-256 by default)."""
        name = hash_name or "sha-256"
        value = self.fingerprints.get(name)
        if value is None:
            value = self.fingerprints[name] = fingerprint(self.der, name)
        return name, value


def make_certificate(options: DtlsOptions | None = None) -> Certificate:
    """A self-signed certificate as rtpengine makes one: random serial, 30 days back and
    forward, the subject ``rtpengine``."""
    options = options or DtlsOptions()
    if options.cert_cipher.lower() == "rsa":
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=options.rsa_key_size)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rtpengine")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, _SIGNING.get(normalize_hash(options.signature) or "", hashes.SHA256)()))
    return Certificate(options, key, cert, cert.public_bytes(Encoding.DER))


def _context(cert: Certificate, profiles: tuple[SrtpProfile, ...] = PROFILES) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.set_options(SSL.OP_NO_TICKET | SSL.OP_NO_QUERY_MTU)
    # the peer's certificate is self-signed: it is checked against the SDP fingerprint instead
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_: True)
    ctx.use_certificate(cert.cert)
    ctx.use_privatekey(cert.key)
    ctx.set_cipher_list(cert.options.ciphers.encode())
    ctx.set_tlsext_use_srtp(b":".join(p.openssl.encode() for p in profiles))
    return ctx


def is_dtls_record(data: bytes) -> bool:
    """A DTLS 1.0/1.2 record header (RFC 6347 section 4.1): a content type from
    change_cipher_spec (20) to ack (26), version 254.x, and a length that fits the datagram."""
    return (len(data) >= 13 and 20 <= data[0] <= 26 and data[1] == 0xFE
            and 13 + (data[11] << 8 | data[12]) <= len(data))


class SrtpKeys(NamedTuple):
    """What the handshake produced: the suite, and key + salt for each direction."""

    suite: str
    #: Protects what rtpgate sends to this party.
    local_key: bytes
    local_salt: bytes
    #: Unprotects what this party sends.
    remote_key: bytes
    remote_salt: bytes


def export_keys(conn: SSL.Connection, client: bool) -> SrtpKeys | None:
    """RFC 5764 section 4.2: client key, server key, client salt, server salt."""
    profile = _BY_OPENSSL.get(conn.get_selected_srtp_profile())
    if profile is None:
        return None
    k, s = profile.key_length, profile.salt_length
    material = conn.export_keying_material(b"EXTRACTOR-dtls_srtp", 2 * (k + s))
    client_key, server_key = material[:k], material[k:2 * k]
    client_salt, server_salt = material[2 * k:2 * k + s], material[2 * k + s:]
    if client:
        return SrtpKeys(profile.suite, client_key, client_salt, server_key, server_salt)
    return SrtpKeys(profile.suite, server_key, server_salt, client_key, client_salt)


class DtlsStats:
    """Counters of every DTLS session of the server (read by metrics and the CLI)."""

    __slots__ = ("bad_datagrams", "fingerprint_mismatches", "handshakes", "timeouts")

    def __init__(self) -> None:
        self.handshakes = 0  #: completed, fingerprint verified
        self.fingerprint_mismatches = 0
        self.timeouts = 0  #: handshakes given up after :data:`HANDSHAKE_TIMEOUT`
        self.bad_datagrams = 0  #: DTLS datagrams OpenSSL refused


#: One set for the process (the relay's streams share it).
STATS = DtlsStats()


class DtlsSession:
    """The DTLS-SRTP handshake of one stream (a :class:`rtpgate.media.pipeline` DTLS handler).

    ``remote_fingerprint`` is ``(hash, value)`` from the peer's SDP; ``on_keys`` gets the keys
    once the handshake is done and the fingerprint matched; ``on_failed`` a reason when the
    session failed (fingerprint mismatch, timeout).  The session sends through the stream it is
    given: its :meth:`datagram` replies to the source of what it got, :meth:`start` (the active
    side) to the address it is told."""

    def __init__(self, cert: Certificate, active: bool,
                 remote_fingerprint: tuple[str, str] | None,
                 on_keys: Callable[[SrtpKeys], None],
                 on_failed: Callable[[str], None] | None = None,
                 label: str = "", profiles: tuple[SrtpProfile, ...] = PROFILES) -> None:
        self.active = active
        self.remote_fingerprint = remote_fingerprint
        self.on_keys = on_keys
        self.on_failed = on_failed
        self.label = label
        #: ``new``, ``connecting``, ``verifying`` (done, waiting for the party's fingerprint),
        #: ``connected`` or ``failed``.
        self.state = "new"
        self.failure: str | None = None
        self.keys: SrtpKeys | None = None
        self.bad_datagrams = 0
        self._conn = SSL.Connection(_context(cert, profiles), None)
        self._conn.set_ciphertext_mtu(cert.options.mtu)
        if active:
            self._conn.set_connect_state()
        else:
            self._conn.set_accept_state()
        self._stream: RelayStream | None = None
        self._peer: Address | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._started = 0.0

    def __repr__(self) -> str:
        role = "active" if self.active else "passive"
        return f"<DtlsSession {self.label} {role} {self.state}>"

    # ------------------------------------------------------------------ driving it

    def start(self, stream: RelayStream, peer: Address) -> None:
        """The active side sends its ClientHello to ``peer`` (a passive side only remembers
        where its peer is).  Calling it again changes the destination only."""
        self._stream, self._peer = stream, peer
        if self.state != "new" or not self.active:
            return
        self._begin()
        self._progress()

    def datagram(self, stream: RelayStream, data: bytes, source: Address) -> None:
        """A DTLS datagram from ``source`` arrived on ``stream``."""
        if not is_dtls_record(data):
            self._bad(f"not a DTLS record from {source[0]}:{source[1]}")
            return
        if self.state == "failed":
            self._bad(f"datagram after failure ({self.failure})")
            return
        self._stream, self._peer = stream, source
        if self.state == "new":
            self._begin()
        try:
            self._conn.bio_write(data)
        except SSL.Error as exc:
            self._bad(f"not accepted: {exc}")
            return
        self._progress()

    def set_remote_fingerprint(self, value: tuple[str, str] | None) -> None:
        """The peer's ``a=fingerprint`` became known (its answer arrived after it already
        completed the handshake with us): verify now."""
        if value is None or self.remote_fingerprint is not None:
            return
        self.remote_fingerprint = value
        if self.state == "verifying":
            self.state = "connecting"
            self._finished()

    def close(self) -> None:
        """Stop the retransmission timer (the stream is going)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stream = None

    # ------------------------------------------------------------------ internals

    def _begin(self) -> None:
        self.state = "connecting"
        self._started = time.monotonic()

    def _progress(self) -> None:
        if self.state == "connecting":
            try:
                self._conn.do_handshake()
            except SSL.WantReadError:
                pass
            except SSL.Error as exc:
                self._bad(f"handshake error: {exc}")
            else:
                self._finished()
        elif self.state == "connected":
            # post-handshake records (a retransmitted Finished, alerts): let OpenSSL see them
            try:
                self._conn.recv(1500)
            except SSL.ZeroReturnError:
                log.info("DTLS %s: peer closed the association", self.label)
            except SSL.Error:
                pass
        self._flush()
        self._arm()

    def _flush(self) -> None:
        while True:
            try:
                data = self._conn.bio_read(65536)
            except SSL.WantReadError:
                return
            if self._stream is not None and self._peer is not None:
                self._stream.send_to(data, self._peer)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.state != "connecting":
            return
        pending = self._conn.DTLSv1_get_timeout()
        timeout = 1.0 if pending is None else max(float(pending), 0.01)
        self._timer = asyncio.get_running_loop().call_later(timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.state != "connecting":
            return
        if time.monotonic() - self._started > HANDSHAKE_TIMEOUT:
            STATS.timeouts += 1
            self._fail(f"handshake not complete after {HANDSHAKE_TIMEOUT:.0f} s")
            return
        try:
            self._conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._bad(f"retransmission error: {exc}")
        self._flush()
        self._arm()

    def _finished(self) -> None:
        peer_cert = self._conn.get_peer_certificate(as_cryptography=True)
        if peer_cert is None:
            self._fail("peer sent no certificate")
            return
        if self.remote_fingerprint is None:
            # the party's SDP is not here yet: no keys before its fingerprint is checked
            self.state = "verifying"
            self._disarm()
            return
        name, expected = self.remote_fingerprint
        hash_name = normalize_hash(name)
        der = peer_cert.public_bytes(Encoding.DER)
        if hash_name is None or fingerprint(der, hash_name) != expected.upper():
            STATS.fingerprint_mismatches += 1
            self._fail("peer certificate does not match a=fingerprint")
            return
        keys = export_keys(self._conn, client=self.active)
        if keys is None:
            self._fail("no SRTP profile negotiated")
            return
        self.state = "connected"
        self._disarm()
        self.keys = keys
        STATS.handshakes += 1
        log.info("DTLS %s: handshake done, %s", self.label, keys.suite)
        self.on_keys(keys)

    def refuse(self, source: Address) -> None:
        """A DTLS datagram from a source that ICE did not vouch for was dropped."""
        self._bad(f"from {source[0]}:{source[1]}, not a checked ICE candidate")

    def _bad(self, reason: str) -> None:
        self.bad_datagrams += 1
        STATS.bad_datagrams += 1
        if self.bad_datagrams <= 10 or self.bad_datagrams % 1000 == 0:
            log.info("DTLS %s: datagram ignored: %s (%d so far)", self.label, reason,
                     self.bad_datagrams)

    def _fail(self, reason: str) -> None:
        self.state = "failed"
        self.failure = reason
        self._disarm()
        log.warning("DTLS %s: failed: %s", self.label, reason)
        if self.on_failed is not None:
            self.on_failed(reason)
