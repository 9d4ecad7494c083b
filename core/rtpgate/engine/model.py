"""Calls, monologues, medias and streams: the call state that ng commands build and report.

The shape is rtpengine's: a :class:`Call` holds one :class:`Monologue` per SIP tag (the offerer,
the answerer, and an untagged placeholder until the answer names it); each monologue has one
:class:`Media` per ``m=`` line, in order; each media has its :class:`Stream` objects (RTP and
RTCP for every consecutive port pair).  A stream's local port belongs to an
:class:`EndpointMap` of its media, keyed by the remote endpoint it was allocated for, so a
re-offer from an unchanged endpoint keeps its ports and a changed one gets new ports while the old
ones stay reserved until the call ends (as rtpengine keeps them).

Flags are plain integer bit masks (``MF_*`` for medias, ``PS_*`` for streams); their names in ng
replies come from :data:`MEDIA_FLAG_NAMES` and :data:`STREAM_FLAG_NAMES`, in rtpengine's order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from ..media.dtls import SrtpKeys
from ..media.srtp import SrtpCounters
from ..media.suites import CryptoParams
from . import transport_protocols
from .interfaces import LogicalInterface
from .ports import MediaSocket

if TYPE_CHECKING:
    from ..media.rtcp import ReportBlock
    from .codecs import Codec

# -- media flags -------------------------------------------------------------------------------
MF_INITIALIZED = 1 << 0
MF_ASYMMETRIC = 1 << 1
MF_SEND = 1 << 2
MF_RECV = 1 << 3
MF_RTCP_MUX = 1 << 4
MF_ICE = 1 << 5
MF_TRICKLE_ICE = 1 << 6
MF_ICE_CONTROLLING = 1 << 7
MF_ICE_LITE_PEER = 1 << 8
MF_UNIDIRECTIONAL = 1 << 9
MF_LOOP_CHECK = 1 << 10
MF_TRANSCODING = 1 << 11
MF_DTLS = 1 << 12  #: DTLS-SRTP towards this media's party
MF_DTLS_ACTIVE = 1 << 13  #: rtpgate's DTLS role may be/is active (the DTLS client)
MF_DTLS_PASSIVE = 1 << 14  #: ... passive (the DTLS server); both: ``a=setup:actpass``
MF_SDES = 1 << 15  #: SDES (a=crypto) keys on this side
MF_SDES_REORDERED = 1 << 18  #: SDES-offerer_pref: reordered what this side offered
# internal: not reported
MF_RTCP_MUX_OVERRIDE = 1 << 16
MF_PTIME_OVERRIDE = 1 << 17
#: rtpgate presents itself as ICE-lite to this party (``ICE-lite=``; rtpengine 10.5 does not
#: report it)
MF_ICE_LITE_SELF = 1 << 19
#: ``ICE=force-relay`` with ICE on both sides: the parties' own ICE and DTLS run end to end
#: through rtpgate's ports, whose candidates are only added as relay candidates (rtpengine's
#: ``PASSTHRU``)
MF_PASSTHRU = 1 << 20
#: The party offers SRTP as legacy OSRTP: a plain ``m=`` section, then an SRTP one, of one
#: media; ``_REV``: the SRTP section first.  What rtpgate writes back to it has both again
#: (the one not used rejected).
MF_LEGACY_OSRTP = 1 << 21
MF_LEGACY_OSRTP_REV = 1 << 22

#: Reported media flags, in rtpengine's order.
MEDIA_FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (MF_INITIALIZED, "initialized"), (MF_ASYMMETRIC, "asymmetric"), (MF_SEND, "send"),
    (MF_RECV, "recv"), (MF_RTCP_MUX, "rtcp-mux"), (MF_DTLS, "DTLS-SRTP"),
    (MF_DTLS_ACTIVE, "DTLS role active"), (MF_DTLS_PASSIVE, "DTLS role passive"),
    (MF_SDES, "SDES"), (MF_PASSTHRU, "passthrough"), (MF_ICE, "ICE"),
    (MF_TRICKLE_ICE, "trickle ICE"), (MF_ICE_CONTROLLING, "ICE controlling"),
    (MF_ICE_LITE_PEER, "ICE-lite peer"), (MF_UNIDIRECTIONAL, "unidirectional"),
    (MF_LOOP_CHECK, "loop check"), (MF_SDES_REORDERED, "SDES reordered"),
    (MF_LEGACY_OSRTP, "legacy OSRTP"), (MF_LEGACY_OSRTP_REV, "reverse legacy OSRTP"),
    (MF_TRANSCODING, "transcoding"),
)

# -- stream flags ------------------------------------------------------------------------------
PS_RTP = 1 << 0
PS_RTCP = 1 << 1
PS_FALLBACK_RTCP = 1 << 2
PS_FILLED = 1 << 3
PS_CONFIRMED = 1 << 4  #: set by the relay once media arrived from the endpoint
PS_STRICT_SOURCE = 1 << 5
PS_MEDIA_HANDOVER = 1 << 6
PS_ICE = 1 << 7
PS_FINGERPRINT_VERIFIED = 1 << 8  #: set by the relay once the DTLS peer's certificate matched
# internal
PS_IMPLICIT_RTCP = 1 << 16
PS_ZERO_ADDR = 1 << 17

STREAM_FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (PS_RTP, "RTP"), (PS_RTCP, "RTCP"), (PS_FALLBACK_RTCP, "fallback RTCP"),
    (PS_FILLED, "filled"), (PS_CONFIRMED, "confirmed"),
    (PS_FINGERPRINT_VERIFIED, "DTLS fingerprint verified"),
    (PS_STRICT_SOURCE, "strict source address"), (PS_MEDIA_HANDOVER, "media handover"),
    (PS_ICE, "ICE"),
)


def flag_names(flags: int, names: tuple[tuple[int, str], ...]) -> list[str]:
    return [name for bit, name in names if flags & bit]


class Endpoint(NamedTuple):
    family: str  #: ``IP4`` or ``IP6``
    address: str
    port: int


@dataclass(slots=True)
class Counters:
    """Packets, bytes and errors of one stream in one direction (the relay adds to these)."""

    packets: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass(slots=True, eq=False)
class EndpointMap:
    """Ports allocated for one remote endpoint (``None``: not known yet, the wildcard map
    the offerer's side gets until the answer arrives).  ``sets`` has one run of ``num_ports``
    sockets per local address of ``interface``."""

    endpoint: Endpoint | None
    interface: LogicalInterface
    num_ports: int
    sets: list[list[MediaSocket]]

    @property
    def wildcard(self) -> bool:
        return self.endpoint is None

    def release(self) -> None:
        for run in self.sets:
            for media_socket in run:
                media_socket.release()
        self.sets = []


@dataclass(slots=True, eq=False)
class MediaResume:
    """What a restarted node needs to carry a stream's secured media on where it was: the
    DTLS-SRTP keys of its finished handshake, the SRTP rollover counters per SSRC both ways
    (SDES or DTLS), the ICE pair it had selected.  A persistence plugin reads it from the relay
    (:func:`rtpgate.engine.resume.snapshot`) and sets :attr:`Stream.resume` on a restored
    stream; the relay's first sync uses it instead of a new handshake and nomination
    (:mod:`rtpgate.engine.resume`)."""

    dtls_keys: SrtpKeys | None = None
    #: SSRC -> rollover counter of what the party sends (decrypted here) ...
    rocs_in: dict[int, int] = field(default_factory=dict)
    #: ... and of what is sent to it (encrypted here)
    rocs_out: dict[int, int] = field(default_factory=dict)
    #: The selected ICE pair: (local address, port), (remote address, port).
    ice_pair: tuple[tuple[str, int], tuple[str, int]] | None = None


@dataclass(slots=True, eq=False)
class Stream:
    """One RTP or RTCP flow of a media: rtpengine's ``packet_stream``."""

    media: Media
    component: int  #: 1 for the first RTP stream, 2 for its RTCP, ...
    #: One socket per local address of the media's interface (rtpengine's ``sfds``).
    sockets: list[MediaSocket] = field(default_factory=list)
    #: The socket advertised in SDP and used for sending.
    selected: MediaSocket | None = None
    endpoint: Endpoint | None = None
    advertised: Endpoint | None = None
    flags: int = 0
    created: float = field(default_factory=time.time)
    #: When media last arrived (the relay updates it; signalling refreshes it like rtpengine).
    last_packet: float = field(default_factory=time.time)
    stats_in: Counters = field(default_factory=Counters)
    stats_out: Counters = field(default_factory=Counters)
    #: SSRCs the relay saw in received packets, in order of appearance.
    ssrcs: list[int] = field(default_factory=list)
    #: RTCP reception reports received on this stream, newest per reported SSRC (the relay
    #: fills it): loss and jitter of the media this stream's party receives.
    rtcp_reports: dict[int, ReportBlock] = field(default_factory=dict)
    #: SDES-SRTP work of the relay on this stream (decrypting what its party sends, encrypting
    #: what is sent to it).
    srtp: SrtpCounters = field(default_factory=SrtpCounters)
    #: Set on a restored stream until the relay's first sync has used it (see
    #: :class:`MediaResume`).
    resume: MediaResume | None = None

    @property
    def is_rtcp(self) -> bool:
        return not self.flags & PS_RTP and bool(self.flags & PS_RTCP)


@dataclass(slots=True, eq=False)
class IceCredentials:
    ufrag: str
    pwd: str


@dataclass(slots=True, eq=False)
class RemoteIce:
    """What a party's SDP said about its ICE: credentials, candidates (``a=candidate``
    values, trickled ones added), ICE-lite."""

    ufrag: str | None
    pwd: str | None
    candidates: list[str] = field(default_factory=list)
    lite: bool = False


@dataclass(slots=True, eq=False)
class DtlsState:
    """What a party's SDP said about DTLS (``a=fingerprint``, ``a=setup``), and how the relay's
    handshake with it went (``new``, ``connecting``, ``connected``, ``failed``)."""

    fingerprint: tuple[str, str] | None = None  #: ``(hash, value)``
    setup: str | None = None
    state: str = "new"
    suite: str | None = None
    failure: str | None = None


@dataclass(slots=True, eq=False)
class Media:
    monologue: Monologue
    index: int  #: 1-based position of the m= line
    type: str  #: ``audio``, ``video``, ...
    protocol: str | None = None  #: a known transport protocol (``RTP/AVP``), else None
    protocol_str: str = ""  #: the transport as last received
    flags: int = 0
    streams: list[Stream] = field(default_factory=list)
    endpoint_maps: list[EndpointMap] = field(default_factory=list)
    interface: LogicalInterface | None = None
    family: str | None = None  #: desired address family (``IP4``/``IP6``)
    ptime: int = 0
    media_id: str | None = None
    ice: IceCredentials | None = None
    #: The party's own ICE (from its SDP); the relay's agent checks against it.
    remote_ice: RemoteIce | None = None
    #: The party's DTLS (from its SDP) and the handshake's state.
    dtls: DtlsState | None = None
    #: The hash of rtpgate's ``a=fingerprint`` towards this party, chosen once (rtpengine keeps
    #: the first ``DTLS-fingerprint=``, else the party's hash, else sha-256).
    fingerprint_hash: str | None = None
    #: The relay's ICE agent state per component (``new``, ``checking``, ``completed`` ...).
    ice_state: str | None = None
    #: Codec payload types last passed on for this media (for the relay and the CLI).
    payload_types: tuple[int, ...] = ()
    #: ... and their encodings (``{pt: "PCMU/8000"}``): what the peer's party sends.
    encodings: dict[int, str] = field(default_factory=dict)
    #: The codecs rtpgate last wrote into this party's SDP (with their fmtp).
    codecs: tuple[Codec, ...] = ()
    #: The codecs of the party's own last SDP (an offerer's without the ones stripped).
    sent_codecs: tuple[Codec, ...] = ()
    #: Codec state of an offerer: its offer got codecs to transcode to (or ``always
    #: transcode``), so the answer to it is built from its own codecs; ``prefer`` are the
    #: ``codec-consume`` names, its preferred transcoding targets.
    transcode_offer: bool = False
    always_transcode: bool = False
    prefer: tuple[str, ...] = ()
    #: ``codec-accept`` names of an offerer: answered to it whatever its answerer chose.
    accept: tuple[str, ...] = ()
    #: Encoder options for codecs rtpgate encodes towards this party: the offer's
    #: ``codec-set`` and ``codec-transcode`` specs (``opus/48000/2/32000``: the bitrate).
    codec_set: tuple[str, ...] = ()
    #: The offer's ``codec-transcode`` specs alone: rtpengine reads a packetisation time from
    #: them (``PCMU/8000/1//30``, the fifth field), not from ``codec-set``.
    codec_transcode: tuple[str, ...] = ()
    #: State media plugins keep with this media, by plugin (a transcoder's codec chains):
    #: it goes when the media goes, and what reads the call model can reach it.
    plugin_state: dict[str, object] = field(default_factory=dict)
    #: SDES: the party's own ``a=crypto`` lines (the keys it encrypts with; the first is used)
    sdes_in: list[CryptoParams] = field(default_factory=list)
    #: ... and the lines rtpgate gave it (the keys rtpgate encrypts with towards it)
    sdes_out: list[CryptoParams] = field(default_factory=list)
    #: Publish/subscribe: the media of another monologue this one receives a copy of (a
    #: subscriber's media; its monologue lists that source's monologue in ``sources``).
    source: Media | None = None
    #: Creation index of the media in its call (rtpengine's ``unique_id``; -1 until attached).
    unique_id: int = -1
    #: The media's label (``a=label:``; SIPREC subscriptions number them as rtpengine does).
    label: str | None = None

    @property
    def rx_crypto(self) -> CryptoParams | None:
        """The SDES key this media's party sends with, if SDES-SRTP applies (not while DTLS
        is negotiated with that party, and only on an SRTP protocol: as rtpengine chooses its
        packet handler by the protocols, a party that answered an OSRTP offer with plain
        RTP/AVP gets plain RTP, though its keys stay in ``query``)."""
        if (self.flags & MF_SDES and not self.flags & MF_DTLS and self.sdes_in
                and transport_protocols.is_srtp(self.protocol)):
            return self.sdes_in[0]
        return None

    @property
    def tx_crypto(self) -> CryptoParams | None:
        """The SDES key rtpgate sends to this media's party with, if SDES-SRTP applies."""
        if (self.flags & MF_SDES and not self.flags & MF_DTLS and self.sdes_out
                and transport_protocols.is_srtp(self.protocol)):
            return self.sdes_out[0]
        return None

    @property
    def awaits_tx_key(self) -> bool:
        """An SRTP party (``RTP/SAVP(F)``, ``UDP/TLS/...``, not OSRTP) with SDES or DTLS that
        rtpgate has no key towards yet and no DTLS role with (an offerer before its answer):
        what would go to it is dropped, never sent in the clear (rtpengine 10.5 drops it too).
        A decided DTLS role is the DTLS handshake's to block until its keys exist."""
        flags = self.flags
        if flags & MF_PASSTHRU or not flags & (MF_SDES | MF_DTLS) or self.tx_crypto:
            return False
        if flags & MF_DTLS and flags & (MF_DTLS_ACTIVE | MF_DTLS_PASSIVE):
            return False
        proto = transport_protocols.get(self.protocol)
        return proto is not None and proto.srtp and not proto.osrtp

    def release(self) -> None:
        for em in self.endpoint_maps:
            em.release()
        self.endpoint_maps = []
        for stream in self.streams:
            stream.sockets = []
            stream.selected = None


@dataclass(slots=True)
class DtmfTrigger:
    """``block DTMF`` with ``trigger``: the DTMF sequence a party types that switches its
    ``DTMF-security`` mode (rtpengine's ``dtmf_trigger``), and what ends that again."""

    sequence: str  #: the keys that switch to ``mode`` (or, once matched, to ``end_mode``)
    mode: str  #: ``DTMF-security-trigger`` (``off`` when not given)
    end_sequence: str = ""  #: ``trigger-end``
    end_mode: str = "off"  #: ``DTMF-security-trigger-end``
    end_ms: int = 0  #: ``trigger-end-time``: back to ``end_mode`` this long after the match
    end_digits: int = 0  #: ``trigger-end-digits``: ... or after this many more events
    #: ``True`` once ``sequence`` matched and ``end_sequence`` / ``end_digits`` are watched.
    matched: bool = False


@dataclass(slots=True)
class MediaControl:
    """block/silence/DTMF state of one monologue (the relay enforces it)."""

    block_dtmf: bool = False
    dtmf_mode: str = "drop"
    #: The event code ``DTMF-security=DTMF`` puts in place of the party's (``digit``).
    dtmf_digit: int = 0
    #: ``DTMF-security=tone``: the tone's frequency (Hz) and level (-dBm0), rtpengine's
    #: ``frequency`` and ``volume`` keys (400 Hz, 10 when not given).
    tone_frequency: int = 400
    tone_volume: int = 10
    dtmf_trigger: DtmfTrigger | None = None
    #: ``delay-buffer`` (ms) of ``block DTMF`` / ``unblock DTMF``: the party's media is held
    #: this long, so in-band DTMF can be replaced from its start (rtpengine's
    #: ``buffer_delay``, kept until a command sets it again; 0: none).
    delay_buffer: int = 0
    #: ``DTMF-delay`` (ms): with the mode off, the party's digits reach the peer this much
    #: later (silence in their place meanwhile); set with every ``block DTMF`` that sets a
    #: mode, a delay buffer or a trigger (rtpengine's ``dtmf_delay``).
    dtmf_delay: int = 0
    block_media: bool = False
    silence_media: bool = False
    #: Directional blocks towards these tags (``to-tag`` / ``all: flows`` selections).
    block_media_to: set[str] = field(default_factory=set)
    silence_media_to: set[str] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class Monologue:
    """One party of a call, identified by its SIP tag ("" until an answer names it)."""

    call: Call
    tag: str
    unique_id: int  #: creation index in the call (``<untagged N>`` in replies)
    created: float = field(default_factory=time.time)
    via_branch: str | None = None
    #: ``inject DTMF`` was in an offer or answer of this party: ``play DTMF`` reaches its
    #: peer although the call does not transcode (rtpengine's ``inject_dtmf``).
    inject_dtmf: bool = False
    label: str | None = None
    aliases: list[str] = field(default_factory=list)
    medias: list[Media] = field(default_factory=list)
    #: The offer/answer peers (rtpengine's subscriptions; subscribers mirror them).
    peers: list[Monologue] = field(default_factory=list)
    interface: LogicalInterface | None = None
    sdp_version: int = 0
    #: The ``o=`` session id of the SDPs rtpgate makes for this party (publish/subscribe).
    sdp_session_id: int = 0
    sdp_username: str | None = None
    sdp_session_name: str | None = None
    last_out_sdp: str | None = None
    deleted: bool = False
    #: When a ``delete`` of this party alone (its tag or via-branch) takes effect: rtpengine
    #: keeps a deleted branch for the delete-delay (None: no such delete pending).
    deleted_at: float | None = None
    #: The parties this one was ever in an offer/answer dialogue with, each branch of a forked
    #: offer included (rtpengine's ``other_tags`` and ``branches``): deleting one of them
    #: takes this party with it only when it is left with none.
    associates: list[Monologue] = field(default_factory=list)
    control: MediaControl = field(default_factory=MediaControl)
    forwarding: bool = False
    recording: bool = False
    #: Publish/subscribe: the monologues this one subscribed to (``subscribe request``), in
    #: order; its medias' ``source`` say which media of them each receives.  The sources'
    #: side is :meth:`Call.subscribers`.
    sources: list[Monologue] = field(default_factory=list)
    #: How the monologue came to be: ``offer/answer``, ``publish`` or ``subscribe``.
    kind: str = "offer/answer"
    #: Publish/subscribe: this subscriber's own SSRC/sequence/timestamp spaces
    #: (:class:`rtpgate.media.outcontext.OutputContext`), by (media index, RTP stream index),
    #: made by the relay and kept across re-subscriptions so the party's stream goes on where
    #: it was (relay state: not stored, not restored).
    output_contexts: dict[tuple[int, int], object] = field(default_factory=dict)
    #: The party's last SDP (``publish``): a single-source subscription's offer keeps its
    #: session section, as rtpengine 10.5 does.
    last_in_sdp: str | None = None

    def media(self, index: int) -> Media | None:
        for media in self.medias:
            if media.index == index:
                return media
        return None

    def dtmf_blocking(self) -> MediaControl | None:
        """The ``block DTMF`` state that applies to what this party sends: its own, else the
        call's; ``None`` when its DTMF is not blocked."""
        if self.control.block_dtmf:
            return self.control
        return self.call.media_control if self.call.media_control.block_dtmf else None

    def release(self) -> None:
        for media in self.medias:
            media.release()


@dataclass(slots=True)
class Recording:
    """Recording state of a call; it exists once recording or forwarding was asked for."""

    recording: bool = False
    paused: bool = False
    forwarding: bool = False
    #: What offers and the recording commands gave (``metadata``; ``recording-file`` alias
    #: ``output-destination``, ``recording-path``, ``recording-pattern``); the newest
    #: non-empty value of each is kept, as rtpengine keeps them, for a recording plugin.
    metadata: str = ""
    file: str = ""
    path: str = ""
    pattern: str = ""
    #: The last offer or answer of the call while it had recording state, for a recording
    #: plugin's metadata (rtpengine's ``meta_write_sdp_before/after``): the sender's unique id,
    #: ``offer``/``answer``, the SDP received and the SDP rtpgate sent.
    signalled: tuple[int, str, str, str] | None = None
    #: The recording, when it ends next, is discarded (``record call=discard``, the
    #: ``discard-recording`` flag): a recording plugin removes its outputs and clears this.
    discard: bool = False
    #: Where a recording plugin records the call now (rtpengine's pcap path): offer and
    #: answer replies list them as ``recordings``.
    outputs: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Call:
    call_id: str
    #: The control client (proxy) address of the first offer.
    proxy: str = ""
    created: float = field(default_factory=time.time)
    last_signal: float = 0.0
    monologues: list[Monologue] = field(default_factory=list)
    #: When the call is to be destroyed (a ``delete`` with delete-delay); None: not deleted.
    deleted_at: float | None = None
    #: Another node's call, kept from persisted state (Redis keyspace notifications): not
    #: relayed, not timed out, never written back, until it is taken over.
    foreign: bool = False
    #: The persistence database (Redis keyspace) the call lives in, and when it was last
    #: written there (``time.time()``; 0: never).  Kept by the persistence plugin.
    keyspace: int = 0
    last_stored: float = 0.0
    recording: Recording | None = None
    media_control: MediaControl = field(default_factory=MediaControl)
    #: Set by the CLI's ``call debug`` (more logging for this call).
    debug: bool = False
    ended: bool = False
    _next_id: int = 0
    _next_media_id: int = 0

    def __post_init__(self) -> None:
        self.last_signal = self.created

    def new_monologue(self, tag: str) -> Monologue:
        """A monologue not yet attached (offers attach it once they succeed)."""
        ml = Monologue(self, tag, self._next_id)
        self._next_id += 1
        return ml

    def attach_media(self, media: Media) -> None:
        """Give a media that joins the call its creation index (rtpengine's ``unique_id``)."""
        if media.unique_id < 0:
            media.unique_id = self._next_media_id
            self._next_media_id += 1

    def continue_ids(self) -> None:
        """A call rebuilt from stored state (its parts keep their stored ``unique_id``):
        monologues and medias that join it later are numbered after them, and a media stored
        without one gets the next."""
        medias = [media for ml in self.monologues for media in ml.medias]
        self._next_id = max((ml.unique_id + 1 for ml in self.monologues), default=0)
        self._next_media_id = max((media.unique_id + 1 for media in medias), default=0)
        for media in medias:
            self.attach_media(media)

    def monologue(self, tag: str) -> Monologue | None:
        for ml in self.monologues:
            if ml.tag == tag or tag in ml.aliases:
                return ml
        return None

    def by_label(self, label: str) -> Monologue | None:
        for ml in self.monologues:
            if ml.label == label:
                return ml
        return None

    def subscribers(self, source: Monologue) -> list[Monologue]:
        """The monologues subscribed to ``source`` (publish/subscribe), in call order."""
        return [ml for ml in self.monologues if source in ml.sources]

    def end_subscriptions(self) -> None:
        """Subscriptions to monologues that left the call end; their subscribers stay, with
        nothing to receive."""
        present = set(self.monologues)
        for ml in self.monologues:
            if all(source in present for source in ml.sources):
                continue
            ml.sources = [source for source in ml.sources if source in present]
            for media in ml.medias:
                if media.source is not None and media.source.monologue not in present:
                    media.source = None
                    media.flags &= ~MF_SEND

    def by_via_branch(self, branch: str) -> Monologue | None:
        for ml in self.monologues:
            if ml.via_branch == branch:
                return ml
        return None

    @property
    def deletion_mark(self) -> bool:
        return self.deleted_at is not None

    def medias(self) -> list[Media]:
        return [m for ml in self.monologues for m in ml.medias]

    def streams(self) -> list[Stream]:
        return [s for ml in self.monologues for m in ml.medias for s in m.streams]

    def release(self) -> None:
        for ml in self.monologues:
            ml.release()
