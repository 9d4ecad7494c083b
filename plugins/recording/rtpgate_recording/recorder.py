"""The recordings of the running server: which call records where, what forwards, and when a
recording starts, pauses, resumes and ends (rtpengine's ``recording_start``/``_pause``/
``_stop``), driven by the call model the engine keeps (``call.recording``)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rtpgate.api import Call, Media, MediaEndpoint, Monologue, Stream

from . import pcap
from .pcapsession import PcapSession
from .procsession import ProcSession
from .streams import StreamInfo, local_address
from .writer import Writer

log = logging.getLogger("rtpgate.recording")

#: How often records buffered on the loop are handed to the writer thread (at the latest).
HAND_OVER_EVERY = 0.5

#: What the tap does with each packet: the pcap method's recorder (called with the packet on
#: the loop), or the proc method's job (queued with the stream, the time and the source).
PacketJob = Callable[[bytes], bytes] | Callable[[StreamInfo, float, bytes,
                                                 "MediaEndpoint | None"], None]


@dataclass(frozen=True, slots=True)
class Config:
    spool: str  #: ``--recording-dir``; empty: recording is off
    method: str  #: ``pcap`` or ``proc``
    format: str  #: ``raw`` or ``eth``
    queue: int  #: packets that may wait for the writer
    forward_to: tuple[str, int] | None  #: where ``start forwarding`` sends copies
    #: the kernel table in the paths the recording daemon opens (its ``--table``, default 0;
    #: rtpengine's own ``--table`` stays an ignored option here)
    table: int = 0


def spool_dirs(config: Config) -> list[str]:
    """The directories the method needs under the spool (rtpengine creates them)."""
    if config.method == "pcap":
        return [config.spool] + [os.path.join(config.spool, d)
                                 for d in ("metadata", "pcaps", "tmp")]
    return [config.spool]


def check_spool(config: Config) -> None:
    """Create the spool's directories (rtpengine's ``create_spool_dir``); raises
    :class:`OSError` when one cannot be made or written to."""
    for directory in spool_dirs(config):
        try:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot set up the recording directory {directory}: "
                                     f"{exc.strerror}") from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError(f"the recording directory {directory} is not writable")


class Files(Protocol):
    """What a recording method writes (:class:`PcapSession`, :class:`ProcSession`); every
    method runs on the writer thread."""

    eth: bool

    def open(self) -> None: ...
    def chunk(self, label: str, content: str = "") -> None: ...
    def stream(self, info: StreamInfo, details: str) -> None: ...
    def sdp(self, tag: int, label: str, started: float, mode: str, before: str, after: str
            ) -> None: ...
    def paused(self, paused: bool, when: float) -> None: ...
    def hand_over(self) -> None: ...
    def close(self, metadata: str, ended: float, discard: bool) -> None: ...


@dataclass(eq=False)
class Session:
    """One call's recording as the event loop sees it; its files' state lives on the writer
    thread (:attr:`files`)."""

    call: Call
    files: Files
    infos: dict[Stream, StreamInfo] = field(default_factory=dict)
    #: the offer or answer last written (``Recording.signalled``)
    signalled: tuple[int, str, str, str] | None = None
    paused: bool = False
    metadata: str = ""
    #: monologues and medias whose sections were written (proc), medias numbered from 1
    tags: dict[int, str] = field(default_factory=dict)
    medias: dict[Media, int] = field(default_factory=dict)
    #: what the ``RECORDING``/``FORWARDING`` sections last said (proc): recording, the
    #: call's forwarding, and each party's (by ``unique_id``)
    flags: tuple[bool, bool, frozenset[int]] | None = None


def forwarding(call: Call) -> tuple[bool, frozenset[int]]:
    """Whether the whole call forwards, and which parties do (``from-tag`` with
    ``directional``)."""
    rec = call.recording
    return (bool(rec and rec.forwarding),
            frozenset(ml.unique_id for ml in call.monologues if ml.forwarding))


class Recorder:
    """Sessions by call; the writer; the forwarding socket."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.writer = Writer(config.queue)
        self.sessions: dict[Call, Session] = {}
        self._forward_sock: socket.socket | None = None
        self._unconfigured_logged = False
        self._timer: asyncio.TimerHandle | None = None
        #: the pcap method builds its records on the loop (the tap calls its recorder)
        self.direct = config.method == "pcap"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.config.spool:
            check_spool(self.config)
        if self.config.forward_to is not None:
            family = socket.AF_INET6 if ":" in self.config.forward_to[0] else socket.AF_INET
            self._forward_sock = socket.socket(family, socket.SOCK_DGRAM)
            self._forward_sock.setblocking(False)
        self.writer.start()
        self._hand_over()

    def _hand_over(self) -> None:
        """Every :data:`HAND_OVER_EVERY` seconds, what the loop buffered goes to the writer."""
        for session in self.sessions.values():
            session.files.hand_over()
        self._timer = asyncio.get_running_loop().call_later(HAND_OVER_EVERY, self._hand_over)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for call in list(self.sessions):
            self._finish(call)
        self.writer.stop()
        if self._forward_sock is not None:
            self._forward_sock.close()
            self._forward_sock = None
        stats = self.writer.stats
        log.info("recording: %d packets written, %d dropped (queue full), %d errors; "
                 "%d forwarded, %d forwarding errors", stats.written, stats.dropped,
                 stats.errors, stats.forwarded, stats.forward_errors)

    # ------------------------------------------------------------------ relay side

    def packet_job(self, call: Call, stream: Stream
                   ) -> tuple[PacketJob | None, StreamInfo | None]:
        """What the tap queues for each packet ``stream`` receives: nothing unless the call
        records (and is not paused)."""
        if not self._records_packets(call):
            return None, None
        session = self._session(call)
        if session is None:
            return None, None
        info = session.infos.get(stream)
        if info is None:
            info = self._new_stream(session, stream)
        files = session.files
        if isinstance(files, PcapSession):
            return files.recorder(info, stream), info  # called on the loop by the tap
        assert isinstance(files, ProcSession)
        return files.packet, info  # queued for the writer thread by the tap

    def _records_packets(self, call: Call) -> bool:
        """Whether the call's packets go to its recording: while it records; with the proc
        method also while it is paused or forwards (rtpengine hands every packet of a call
        with a recording to the daemon, which writes audio only while ``RECORDING 1`` and
        forwards what ``FORWARDING`` says)."""
        rec = call.recording
        if rec is None:
            return False
        if rec.recording:
            return True
        if self.config.method != "proc":
            return False
        whole, parties = forwarding(call)
        return rec.paused or whole or bool(parties)

    def _new_stream(self, session: Session, stream: Stream) -> StreamInfo:
        """Number a stream of the recording and announce it (with its party and media, the
        first time) to the method's files."""
        media = stream.media
        ml = media.monologue
        control = self.writer.control
        files = session.files
        if ml.unique_id not in session.tags:
            self._tag(session, ml)
        number = session.medias.get(media)
        if number is None:
            number = session.medias[media] = len(session.medias) + 1
            control(files.chunk, f"MEDIA {number} PTIME {media.ptime or 20}")
            for codec in media.sent_codecs or media.codecs:
                if codec.encoding:
                    control(files.chunk, f"MEDIA {number} PAYLOAD TYPE {codec.pt}",
                            codec.encoding)
                    control(files.chunk, f"MEDIA {number} FMTP {codec.pt}", codec.fmtp)
        info = StreamInfo(len(session.infos), ml.unique_id, media.index, stream.component,
                          stream.is_rtcp, local_address(stream), files.eth)
        session.infos[stream] = info
        control(files.stream, info, f"TAG {ml.unique_id} MEDIA {number} TAG-MEDIA "
                                    f"{media.index} COMPONENT {stream.component} "
                                    f"FLAGS {stream.flags & 0xFFFF}")
        if session.flags is not None:
            control(files.chunk,
                    f"STREAM {info.number} FORWARDING {int(info.tag in session.flags[2])}")
        return info

    def _tag(self, session: Session, ml: Monologue) -> None:
        """A party's tag (again when it changed: an offer's answerer is tagged by the
        answer) and label."""
        session.tags[ml.unique_id] = ml.tag
        control, files = self.writer.control, session.files
        control(files.chunk, f"TAG {ml.unique_id}", ml.tag)
        if ml.label:
            control(files.chunk, f"LABEL {ml.unique_id}", ml.label)

    def forwarder(self, call: Call, stream: Stream) -> Callable[[bytes], None] | None:
        """How the tap forwards what ``stream`` receives: to ``--forward-to`` while the call
        (``all``) or the stream's party (``from-tag`` with ``directional``) forwards."""
        rec = call.recording
        sock, target = self._forward_sock, self.config.forward_to
        if sock is None or target is None or rec is None:
            return None
        if not (rec.forwarding or stream.media.monologue.forwarding):
            return None
        stats = self.writer.stats
        sendto = sock.sendto

        def forward(data: bytes) -> None:
            try:
                sendto(data, target)
            except OSError:
                stats.forward_errors += 1
                return
            stats.forwarded += 1

        return forward

    # ------------------------------------------------------------------ engine side

    def changed(self, call: Call) -> None:
        """The engine changed ``call``: start, pause, resume or end its recording, write
        new SDPs and metadata."""
        rec = call.recording
        if rec is None:
            return
        session = self.sessions.get(call)
        if session is None and self._records_packets(call):
            session = self._session(call)
        if session is None:
            rec.discard = False
            return
        if not rec.paused and not self._records_packets(call):
            self._finish(call)
            return
        control = self.writer.control
        files = session.files
        files.hand_over()  # so that packet numbers and notes fall where they belong
        if rec.paused != session.paused:
            session.paused = rec.paused
            control(files.paused, rec.paused, time.time())
        self._flags(session, streams=True)
        for ml in call.monologues:
            if ml.unique_id in session.tags and session.tags[ml.unique_id] != ml.tag:
                self._tag(session, ml)
        if rec.metadata != session.metadata:
            session.metadata = rec.metadata
            control(files.chunk, "METADATA", rec.metadata)
        signalled = rec.signalled
        if signalled is not None and signalled is not session.signalled:
            session.signalled = signalled
            sender = next((ml for ml in call.monologues if ml.unique_id == signalled[0]), None)
            label = sender.label or "" if sender is not None else ""
            started = sender.created if sender is not None else call.created
            control(files.sdp, signalled[0], label, started, signalled[1], signalled[2],
                    signalled[3])

    def ended(self, call: Call) -> None:
        self._finish(call)

    def _flags(self, session: Session, streams: bool) -> None:
        """rtpengine's ``update_flags_proc``: ``RECORDING``, ``FORWARDING`` and (``streams``)
        each stream's ``STREAM n FORWARDING``, when they changed (nothing in a pcap)."""
        call = session.call
        rec = call.recording
        whole, parties = forwarding(call)
        flags = (bool(rec and rec.recording), whole, parties)
        if flags == session.flags:
            return
        session.flags = flags
        control, files = self.writer.control, session.files
        control(files.chunk, f"RECORDING {int(flags[0])}")
        control(files.chunk, f"FORWARDING {int(whole)}")
        if streams:
            for info in session.infos.values():
                control(files.chunk, f"STREAM {info.number} FORWARDING {int(info.tag in parties)}")

    # ------------------------------------------------------------------ internals

    def _session(self, call: Call) -> Session | None:
        session = self.sessions.get(call)
        if session is not None:
            return session
        config = self.config
        rec = call.recording
        if not config.spool or rec is None:
            if not self._unconfigured_logged:
                self._unconfigured_logged = True
                log.error("Call recording requested, but no spool directory configured "
                          "(--recording-dir)")
            return None
        name = f"{urllib.parse.quote(call.call_id, safe='')}-{secrets.token_hex(8)}"
        files: Files
        if config.method == "proc":
            proc = ProcSession(self.writer, config.spool, name, call.call_id, config.table)
            files, where = proc, proc.meta_path
        else:
            pcaps = PcapSession(self.writer, config.spool, name, pcap.FORMATS[config.format],
                                rec.file, rec.path, call.created)
            files, where = pcaps, pcaps.pcap_path
        session = Session(call, files)
        self.sessions[call] = session
        control = self.writer.control
        control(files.open)
        self._flags(session, streams=False)
        for key, value in (("METADATA", rec.metadata), ("RECORDING_FILE", rec.file),
                           ("OUTPUT_DESTINATION", rec.file), ("RECORDING_PATH", rec.path),
                           ("RECORDING_PATTERN", rec.pattern)):
            if value:
                control(files.chunk, key, value)
        session.metadata = rec.metadata
        if isinstance(files, PcapSession):
            rec.outputs = [files.pcap_path]
        log.info("recording call %s to %s", call.call_id, where)
        return session

    def _finish(self, call: Call) -> None:
        session = self.sessions.pop(call, None)
        rec = call.recording
        discard = rec is not None and rec.discard
        if rec is not None:
            rec.discard = False
            rec.outputs = []
        if session is None:
            return
        session.files.hand_over()
        self.writer.control(session.files.close, session.metadata, time.time(), discard)
        log.info("recording of call %s %s", call.call_id, "discarded" if discard else "ended")
