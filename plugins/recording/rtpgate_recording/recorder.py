"""The recordings of the running server: which call records where, what forwards, and when a
recording starts, pauses, resumes and ends (rtpengine's ``recording_start``/``_pause``/
``_stop``), driven by the call model the engine keeps (``call.recording``)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from rtpgate.api import Call, Stream

from . import pcap
from .pcapsession import PcapSession
from .streams import StreamInfo, local_address
from .writer import Writer

log = logging.getLogger("rtpgate.recording")

PacketJob = Callable[[StreamInfo, float, bytes, "tuple[str, int] | None"], None]


@dataclass(frozen=True, slots=True)
class Config:
    spool: str  #: ``--recording-dir``; empty: recording is off
    method: str  #: ``pcap`` or ``proc``
    format: str  #: ``raw`` or ``eth``
    queue: int  #: packets that may wait for the writer
    forward_to: tuple[str, int] | None  #: where ``start forwarding`` sends copies


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


class Session:
    """One call's recording: its files' state lives on the writer thread (:attr:`files`)."""

    def __init__(self, call: Call, files: PcapSession) -> None:
        self.call = call
        self.files = files
        self.infos: dict[Stream, StreamInfo] = {}
        #: the offer or answer last written (``Recording.signalled``)
        self.signalled: tuple[int, str, str, str] | None = None
        self.paused = False
        self.metadata = ""


class Recorder:
    """Sessions by call; the writer; the forwarding socket."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.writer = Writer(config.queue)
        self.sessions: dict[Call, Session] = {}
        self._forward_sock: socket.socket | None = None
        self._unconfigured_logged = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.config.spool:
            check_spool(self.config)
        if self.config.forward_to is not None:
            family = socket.AF_INET6 if ":" in self.config.forward_to[0] else socket.AF_INET
            self._forward_sock = socket.socket(family, socket.SOCK_DGRAM)
            self._forward_sock.setblocking(False)
        self.writer.start()

    def stop(self) -> None:
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
        rec = call.recording
        if rec is None or not rec.recording:
            return None, None
        session = self._session(call)
        if session is None:
            return None, None
        info = session.infos.get(stream)
        if info is None:
            info = StreamInfo(len(session.infos), stream.media.monologue.unique_id,
                              stream.media.index, stream.component, stream.is_rtcp,
                              local_address(stream), session.files.eth)
            session.infos[stream] = info
        return session.files.packet, info

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
        if rec.recording and session is None:
            session = self._session(call)
        if session is None:
            return
        if not rec.recording and not rec.paused:
            self._finish(call)
            return
        files = self.writer.control
        if rec.paused != session.paused:
            session.paused = rec.paused
            word = "paused" if rec.paused else "resumed"
            now = time.time()
            files(session.files.note, f"\nRecording {word} at: "
                  f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(now))} "
                  f"({now * 1000:.3f} ms)\n")
        session.metadata = rec.metadata
        signalled = rec.signalled
        if signalled is not None and signalled is not session.signalled:
            session.signalled = signalled
            sender = next((ml for ml in call.monologues if ml.unique_id == signalled[0]), None)
            label = sender.label or "" if sender is not None else ""
            started = sender.created if sender is not None else call.created
            files(session.files.sdp, label, started, signalled[1], signalled[3])

    def ended(self, call: Call) -> None:
        self._finish(call)

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
        files = PcapSession(self.writer, config.spool, name, pcap.FORMATS[config.format],
                            rec.file, rec.path, call.created)
        session = Session(call, files)
        self.sessions[call] = session
        self.writer.control(files.open)
        log.info("recording call %s to %s", call.call_id, files.pcap_path)
        return session

    def _finish(self, call: Call) -> None:
        session = self.sessions.pop(call, None)
        if session is None:
            return
        self.writer.control(session.files.close, session.metadata, time.time())
        log.info("recording of call %s ended", call.call_id)
