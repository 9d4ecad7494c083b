"""SDES (RFC 4568): the ``a=crypto`` attribute, rtpengine's crypto suites, and which suites and
keys each side of a call gets (rtpengine's ``__generate_crypto`` and ``__sdes_accept``).

An ``a=crypto`` line in an SDP is the key its *sender* encrypts with: the party's own lines are
a media's ``sdes_in`` (what rtpgate decrypts that party's packets with), and the lines rtpgate
writes into the SDP it sends to a party are that media's ``sdes_out`` (what rtpgate encrypts
with towards that party).

Offer: the receiver's ``sdes_out`` starts with the offerer's own lines (same tag, suite and key,
MKI kept, lifetime dropped, so SRTP can pass through unchanged when the answerer picks one of
them), then every other suite rtpengine knows, in its order, with fresh random keys and tags
counting on (not with ``SDES-nonew``); ``SDES-no-``/``SDES-only-`` leave suites out,
``SDES-order:`` moves suites to the front.  Answer: the answerer's chosen line prunes what was
offered to it down to that one, and the offerer is answered with one line: the answerer's key
when the offerer offered the same suite (passthrough), else a fresh key for the offerer's first
suite (or, with ``SDES-offerer_pref:``, the first preferred one it offered).

Parsing follows rtpengine's ``parse_attribute_crypto``: an unknown suite is ignored (logged); a
line of a known suite that does not parse (key of the wrong length, bad base64, bad lifetime or
MKI) is refused with :class:`InvalidCrypto` -- rtpengine ignores those too, rtpgate says why.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..media.pipeline import Pipeline, Stage
from ..media.srtp import SrtpDecrypt, SrtpEncrypt
from ..media.suites import MAX_LIFETIME, MAX_MKI, SUITES, CryptoParams, Suite, find_suite
from .model import MF_DTLS, MF_TRANSCODING

if TYPE_CHECKING:
    from .model import Media, Stream

log = logging.getLogger("rtpgate.engine")


class InvalidCrypto(ValueError):  # noqa: N818 - reads as the reason it carries
    """An ``a=crypto`` line of a known suite that does not parse; the message says why."""


def with_flags(params: CryptoParams, flags: SdesFlags, offer: bool) -> CryptoParams:
    """rtpengine's ``__sdes_flags``: the ``unencrypted_srtp``, ... options (set only in
    offers; their ``encrypted_...`` opposites clear them in any message)."""
    def one(current: bool, on: bool, off: bool) -> bool:
        return True if on and offer else False if off else current

    return replace(
        params,
        unencrypted_srtp=one(params.unencrypted_srtp, flags.unencrypted_srtp,
                             flags.encrypted_srtp),
        unencrypted_srtcp=one(params.unencrypted_srtcp, flags.unencrypted_srtcp,
                              flags.encrypted_srtcp),
        unauthenticated_srtp=one(params.unauthenticated_srtp, flags.unauthenticated_srtp,
                                 flags.authenticated_srtp))


def parse_crypto(value: str) -> CryptoParams | None:
    """Parse the value of an ``a=crypto`` attribute (``1 AES_CM_128_HMAC_SHA1_80
    inline:KEY|2^31|1:1 UNENCRYPTED_SRTCP``).  ``None`` for an unknown suite (ignored, as
    rtpengine does); raises :class:`InvalidCrypto` for a malformed line."""
    parts = value.split()
    if len(parts) < 3:
        raise InvalidCrypto("expected '<tag> <suite> inline:<key>'")
    tag_text, suite_name, key_params, *session = parts
    if not tag_text.isdigit() or not 0 < len(tag_text) <= 9:
        raise InvalidCrypto(f"invalid tag '{tag_text}'")
    suite = find_suite(suite_name)
    if suite is None:
        return None
    if key_params[:7].lower() != "inline:":
        raise InvalidCrypto(f"unknown key method in '{key_params}' (only inline: is known)")
    # only the first key: several ';'-separated keys are not supported by rtpengine either
    key_text, *rest = key_params[7:].split(";", 1)[0].split("|")
    material = _base64(key_text, suite)
    lifetime_text, mki_text = None, None
    if len(rest) == 1:
        (lifetime_text, mki_text) = (None, rest[0]) if ":" in rest[0] else (rest[0], None)
    elif len(rest) == 2:
        lifetime_text, mki_text = rest
    elif rest:
        raise InvalidCrypto(f"invalid key parameters '{key_params}'")
    if lifetime_text is not None:
        _lifetime(lifetime_text)
    mki = _mki(mki_text) if mki_text is not None else b""
    names = {p.upper() for p in session}
    return CryptoParams(int(tag_text), suite, material[:suite.key_len],
                        material[suite.key_len:], mki,
                        unencrypted_srtp="UNENCRYPTED_SRTP" in names,
                        unencrypted_srtcp="UNENCRYPTED_SRTCP" in names,
                        unauthenticated_srtp="UNAUTHENTICATED_SRTP" in names)


def _base64(text: str, suite: Suite) -> bytes:
    want = suite.key_len + suite.salt_len
    try:
        material = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidCrypto(f"invalid base64 key for {suite.name}") from None
    if len(material) != want:
        raise InvalidCrypto(f"key of {len(material)} bytes for {suite.name}, which needs "
                            f"{want} (key {suite.key_len} + salt {suite.salt_len})")
    return material


def _lifetime(text: str) -> int:
    try:
        value = 1 << int(text[2:]) if text.startswith("2^") else int(text)
        if text.startswith("2^") and not 0 < int(text[2:]) < 64:
            raise ValueError
    except ValueError:
        raise InvalidCrypto(f"invalid key lifetime '{text}'") from None
    if not 0 < value <= MAX_LIFETIME:
        raise InvalidCrypto(f"invalid key lifetime '{text}' (at most 2^48)")
    return value


def _mki(text: str) -> bytes:
    value, _, length = text.partition(":")
    if not value.isdigit() or not length.isdigit():
        raise InvalidCrypto(f"invalid MKI '{text}' (expected <value>:<length>)")
    size = int(length)
    if not 0 < size <= MAX_MKI or int(value) >= 1 << (8 * size):
        raise InvalidCrypto(f"invalid MKI '{text}'")
    return int(value).to_bytes(size, "big")


def format_crypto(params: CryptoParams, *, pad: bool = False, lifetime: bool = False) -> str:
    """The ``a=crypto`` line (with ``\\r\\n``) rtpengine's ``insert_crypto1`` writes."""
    key = base64.b64encode(params.key + params.salt).decode()
    if not pad:
        key = key.rstrip("=")
    line = f"a=crypto:{params.tag} {params.suite.name} inline:{key}"
    if lifetime:
        line += "|2^31"
    if params.mki:
        line += f"|{int.from_bytes(params.mki[-8:], 'big')}:{len(params.mki)}"
    if params.unencrypted_srtp:
        line += " UNENCRYPTED_SRTP"
    if params.unencrypted_srtcp:
        line += " UNENCRYPTED_SRTCP"
    if params.unauthenticated_srtp:
        line += " UNAUTHENTICATED_SRTP"
    return line + "\r\n"


# --------------------------------------------------------------------------- flags

@dataclass(slots=True)
class SdesFlags:
    """rtpengine's ``SDES`` options of one offer or answer."""

    off: bool = False
    no: set[str] = field(default_factory=set)  #: upper-case suite names
    only: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)
    offerer_pref: list[str] = field(default_factory=list)
    nonew: bool = False
    pad: bool = False
    lifetime: bool = False
    static: bool = False
    prefer: bool = False
    unencrypted_srtp: bool = False
    unencrypted_srtcp: bool = False
    unauthenticated_srtp: bool = False
    encrypted_srtp: bool = False
    encrypted_srtcp: bool = False
    authenticated_srtp: bool = False

    def excluded(self, suite: Suite) -> bool:
        """rtpengine's ``crypto_params_sdes_check_limitations``: ``SDES-only-`` wins over
        ``SDES-no-``."""
        name = suite.name.upper()
        if self.only:
            return name not in self.only
        return name in self.no

    def option(self, item: str) -> bool:
        """Apply one ``SDES`` list item (``no-X``, ``only-X``, ``order:A;B``, ``pad`` ...);
        False if it is not one rtpengine knows."""
        lower = item.lower()
        for prefix, target in (("only-", self.only), ("no-", self.no)):
            if lower.startswith(prefix):
                target.add(item[len(prefix):].upper())
                return True
        for prefix, queue in (("order:", self.order), ("offerer_pref:", self.offerer_pref)):
            if lower.startswith(prefix):
                queue += [n.upper() for n in item[len(prefix):].split(";") if n]
                return True
        name = _SIMPLE.get(lower)
        if name is None:
            return False
        setattr(self, name, True)
        return True


_SIMPLE = {"no": "off", "off": "off", "disabled": "off", "disable": "off",
           "unencrypted_srtp": "unencrypted_srtp", "unencrypted_srtcp": "unencrypted_srtcp",
           "unauthenticated_srtp": "unauthenticated_srtp", "encrypted_srtp": "encrypted_srtp",
           "encrypted_srtcp": "encrypted_srtcp", "authenticated_srtp": "authenticated_srtp",
           "lifetime": "lifetime", "pad": "pad", "static": "static", "nonew": "nonew",
           "prefer": "prefer", "priority": "prefer"}


# --------------------------------------------------------------------------- negotiation

def accept(sdes_in: Sequence[CryptoParams], sdes_out: Sequence[CryptoParams],
           flags: SdesFlags) -> tuple[list[CryptoParams], list[CryptoParams]]:
    """rtpengine's ``__sdes_accept`` for the media whose party sent ``sdes_in``: drop its
    ``SDES-no``/``-only`` suites (keeping at least one), then prune what rtpgate offered that
    party (``sdes_out``) to the line matching its first (tag and suite).  Returns the new
    ``(sdes_in, sdes_out)``."""
    kept = list(sdes_in)
    if (flags.only or flags.no) and not flags.nonew:
        for params in reversed(list(kept)):
            if len(kept) == 1:
                break
            if flags.excluded(params.suite):
                kept.remove(params)
    if not kept:
        return kept, list(sdes_out)
    first = kept[0]
    out = [p for p in sdes_out if p.suite is first.suite and p.tag == first.tag]
    return kept, out


def reorder(sdes: Sequence[CryptoParams], order: Sequence[str]) -> tuple[list[CryptoParams], bool]:
    """rtpengine's ``reorder_sdes_preferences``: move the suites named in ``order`` to the front,
    in that order.  Returns the list and whether anything moved."""
    out = list(sdes)
    if not out or not order:
        return out, False
    moved = False
    position = 0
    for name in order:
        for index in range(position + 1, len(out)):
            if out[index].suite.name.upper() == name:
                out.insert(position, out.pop(index))
                position += 1
                moved = True
                break
    return out, moved


def offer(offered: Sequence[CryptoParams], previous: Sequence[CryptoParams],
          flags: SdesFlags) -> list[CryptoParams]:
    """The ``sdes_out`` of an offer's receiver: the offerer's lines (``offered``), then what was
    offered to this receiver before (``previous``, keys kept across re-INVITEs), then the
    suites not yet there with fresh keys; ``SDES-order:`` last."""
    out: list[CryptoParams] = []
    seen: set[str] = set()
    next_tag = 1
    for params in offered:
        if not flags.nonew and flags.excluded(params.suite):
            continue
        out.append(with_flags(replace(params), flags, True))
        next_tag = max(next_tag, params.tag + 1)
        seen.add(params.suite.name)
    for params in previous:
        if params.suite.name in seen:
            continue
        tag = max(params.tag, next_tag)
        next_tag = tag + 1
        out.append(replace(params, tag=tag))
        seen.add(params.suite.name)
    if not flags.nonew:
        for suite in SUITES:
            if suite.name in seen or flags.excluded(suite):
                continue
            out.append(with_flags(CryptoParams.generate(next_tag, suite), flags, True))
            next_tag += 1
    if flags.order:
        front = []
        for name in flags.order:
            match = next((p for p in out if p.suite.name.upper() == name), None)
            if match is not None:
                out.remove(match)
                front.append(match)
        out = front + out
    return out


def answer(own_out: Sequence[CryptoParams], own_in: Sequence[CryptoParams],
           answered: Sequence[CryptoParams], flags: SdesFlags, reorder_forced: bool
           ) -> tuple[list[CryptoParams], list[CryptoParams]]:
    """The answer towards the offerer: ``own_in`` are the offerer's lines, ``own_out`` what the
    offerer was answered before, ``answered`` the answerer's (accepted) lines.  Returns the
    offerer's new ``(sdes_out, sdes_in)``: one line each."""
    current = own_out[0] if own_out else None
    chosen_in = own_in[0] if own_in else None
    theirs = answered[0] if answered else None
    if flags.static and current is not None and any(
            p.suite is current.suite and p.tag == current.tag for p in own_in):
        chosen_in = next(p for p in own_in if p.suite is current.suite and p.tag == current.tag)
    elif theirs is not None and not reorder_forced:
        chosen_in = next((p for p in own_in if p.suite is theirs.suite), chosen_in)
    if chosen_in is None:
        return list(own_out), list(own_in)
    if current is not None and current.suite is chosen_in.suite:
        return [current], [chosen_in]
    if theirs is not None and theirs.suite is chosen_in.suite:
        out = replace(theirs, tag=chosen_in.tag)  # SRTP passthrough: the answerer's key
    else:
        out = replace(CryptoParams.generate(chosen_in.tag, chosen_in.suite),
                      unencrypted_srtp=chosen_in.unencrypted_srtp,
                      unencrypted_srtcp=chosen_in.unencrypted_srtcp,
                      unauthenticated_srtp=chosen_in.unauthenticated_srtp)
    return [with_flags(out, flags, False)], [with_flags(chosen_in, flags, False)]


def usable(lines: Iterable[str]) -> list[CryptoParams]:
    """Parse every ``a=crypto`` value of one media (unknown suites skipped, logged)."""
    out = []
    for value in lines:
        params = parse_crypto(value)
        if params is None:
            log.warning("ignoring a=crypto with an unknown crypto suite: %s", value.split()[1:2])
            continue
        out.append(params)
    return out


class KeyPending:
    """Drops RTP/RTCP towards an SDES-SRTP party rtpgate has no key for yet (an offerer before
    the answer): counted by the relay under this stage's name, not as errors."""

    name = "srtp-key-pending"
    error = False

    def rtp(self, data: bytes) -> bytes | None:
        return None

    def rtcp(self, data: bytes) -> bytes | None:
        return None


KEY_PENDING = KeyPending()


class SrtpPipelines:
    """The SDES part of each stream's pipeline (a :class:`PipelineFactory`).

    As rtpengine's (``__determine_handler``: no ``must_recrypt``), SRTP between two SDES
    parties whose keys rtpgate passed on unchanged both ways (each party decrypts with the
    key the other encrypts with) is relayed as it is, neither decrypted nor encrypted again
    (nor authenticated), unless something must read the audio: transcoding, DTLS, a call
    being recorded, more than one receiver, the DTMF log (``busy``), or a plugin's state on
    either media (a player)."""

    def __init__(self, busy: Callable[[], bool] = lambda: False) -> None:
        self.busy = busy

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        media = stream.media
        rx, tx = media.rx_crypto, media.tx_crypto
        if rx is not None and tx is not None and self._unchanged(media, rx, tx):
            return None
        return srtp_pipeline(stream, current)

    def _unchanged(self, media: Media, rx: CryptoParams, tx: CryptoParams) -> bool:
        ml = media.monologue
        if len(ml.peers) != 1 or ml.recording or self.busy():
            return False
        peer = ml.peers[0]
        other = peer.media(media.index)
        if (other is None or peer.peers != [ml] or peer.recording
                or ml.call.subscribers(ml) or ml.call.subscribers(peer)):
            return False
        call_recording = ml.call.recording
        if call_recording is not None and call_recording.recording:
            return False
        for one in (media, other):
            if one.flags & (MF_TRANSCODING | MF_DTLS) or one.plugin_state:
                return False
        return _same_key(rx, other.tx_crypto) and _same_key(tx, other.rx_crypto)


def _same_key(a: CryptoParams, b: CryptoParams | None) -> bool:
    """rtpengine's ``crypto_params_cmp`` (tags aside)."""
    return b is not None and (a.suite, a.key, a.salt, a.mki, a.session_flags) == (
        b.suite, b.key, b.salt, b.mki, b.session_flags)


def srtp_pipeline(stream: Stream, current: Pipeline | None) -> Pipeline | None:
    """The SDES part of ``stream``'s pipeline, decrypting and encrypting."""
    media = stream.media
    rx, tx = media.rx_crypto, media.tx_crypto
    pending = tx is None and media.awaits_tx_key
    if rx is None and tx is None and not pending:
        return None
    ingress: tuple[Stage, ...] = ()
    egress: tuple[Stage, ...] = (KEY_PENDING,) if pending else ()
    if rx is not None:
        ingress = (_decrypt(current, rx, stream),)
    if tx is not None:
        old = _reuse(current, SrtpEncrypt, tx, stream)
        egress = (old if isinstance(old, SrtpEncrypt) else SrtpEncrypt(tx, stream.srtp),)
    return Pipeline(ingress=ingress, egress=egress)


def _decrypt(current: Pipeline | None, rx: CryptoParams, stream: Stream) -> SrtpDecrypt:
    old = _reuse(current, SrtpDecrypt, rx, stream)
    return old if isinstance(old, SrtpDecrypt) else SrtpDecrypt(rx, stream.srtp)


def _reuse(current: Pipeline | None, kind: type[SrtpDecrypt | SrtpEncrypt], params: CryptoParams,
           stream: Stream) -> object | None:
    """The stage of ``kind`` in ``current`` for the same key and stream, if any."""
    if current is None:
        return None
    for stage in (*current.ingress, *current.egress):
        if (type(stage) is kind and isinstance(stage, SrtpDecrypt | SrtpEncrypt)
                and stage.params == params and stage.counters is stream.srtp):
            return stage
    return None
