"""AMR codec mode requests and mode changes, as rtpengine makes them (``lib/amr.c``).

What one party's AMR says and is told is kept on its media (:class:`ModeRequest`), shared by
the chain decoding what it sends and the chain encoding what it receives:

* **CMRs received**: a CMR other than 15 in its AMR asks for a mode of what it receives; the
  encoder towards it changes to that mode (:class:`ModeChanger`), unless the mode is outside
  its ``mode-set``.  With ``mode-change-neighbor=1`` in its fmtp the encoder steps there one
  mode of the mode set at a time; with ``mode-change-period=2`` it changes only after an even
  number of frames (RFC 4867 8.1).
* ``mode-change-interval`` (a codec option: the seventh field of a ``codec-transcode`` spec,
  ``AMR/8000/1/12200//mode-set=0,2,4,7/mode-change-interval=500``): when no CMR came from the
  party for that many ms, the encoder towards it goes one mode up (as if it had asked), and
  the interval starts over.
* ``CMR-interval`` (a codec option too): the frame types the party sends are counted over each
  interval; at its end, if an allowed mode above the highest one it used went unused, a CMR
  asking for the next such mode goes out in the next three AMR packets sent to it.  (rtpengine
  10.5's code compares the interval's end the other way round and so decides at every other
  packet; rtpgate does what its documentation says: once per interval.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .amr import NO_REQUEST, AmrFormat

#: A request to go one mode up (``mode-change-interval``), rtpengine's 0xffff.
UP = -1
#: AMR packets a CMR rtpgate asks for goes out in (rtpengine: 3).
CMR_PACKETS = 3


@dataclass(frozen=True, slots=True)
class CodecOptions:
    """The AMR codec options of a ``codec-transcode`` spec, in seconds (0: off)."""

    cmr_interval: float = 0.0
    mode_change_interval: float = 0.0

    @classmethod
    def parse(cls, text: str) -> CodecOptions:
        """From ``CMR-interval=500;mode-change-interval=1000`` (``--`` for ``=``, as in
        rtpengine's flags)."""
        values: dict[str, float] = {}
        for item in text.replace("--", "=").split(";"):
            key, _, value = item.partition("=")
            if value.strip().isdigit():
                values[key.strip().lower()] = int(value) / 1000
        return cls(values.get("cmr-interval", 0.0), values.get("mode-change-interval", 0.0))


class ModeRequest:
    """The mode requests of one party (CMRs it sent, or rtpgate's step up for it) and the
    CMR rtpgate is to send it."""

    __slots__ = ("_counts", "_last_cmr", "_tracker_end", "cmr_out", "mode", "serial")

    def __init__(self) -> None:
        #: the last mode asked for (:data:`UP`: one up), None: none yet; ``serial`` counts the
        #: requests, each a new one to act on
        self.mode: int | None = None
        self.serial = 0
        #: a CMR to send to the party: (mode, serial), serial 0: none
        self.cmr_out: tuple[int, int] = (NO_REQUEST, 0)
        self._last_cmr: float | None = None
        self._tracker_end = 0.0
        self._counts: dict[int, int] = {}

    def _ask(self, mode: int) -> None:
        self.mode = mode
        self.serial += 1

    def heard(self, payload: bytes, now: float = 0.0, options: CodecOptions | None = None,
              amr: AmrFormat | None = None, frame_types: list[int] | None = None) -> None:
        """An AMR payload from the party (at ``now``, loop seconds): its CMR (the first four
        bits in both framings), and the codec options' bookkeeping."""
        if payload and payload[0] >> 4 != NO_REQUEST:
            self._ask(payload[0] >> 4)
            self._last_cmr = now
        elif options is not None and options.mode_change_interval:
            if self._last_cmr is None:
                self._last_cmr = now
            elif now - self._last_cmr >= options.mode_change_interval:
                self._ask(UP)
                self._last_cmr = now
        if options is not None and options.cmr_interval and amr is not None:
            self._track(now, options.cmr_interval, amr, frame_types or [])

    def _track(self, now: float, interval: float, amr: AmrFormat, frame_types: list[int]
               ) -> None:
        if self._tracker_end and now >= self._tracker_end:
            next_up, used = None, None
            for mode in range(len(amr.rates)):
                if amr.mode_set and mode not in amr.mode_set:
                    continue
                if next_up is None:
                    next_up = mode
                if self._counts.get(mode):
                    next_up, used = None, mode
            if used is not None and next_up is not None:
                self.cmr_out = (next_up, self.cmr_out[1] + 1)
            self._tracker_end = 0.0
        if not self._tracker_end:
            self._counts = {}
            self._tracker_end = now + interval
        for ft in frame_types:
            self._counts[ft] = self._counts.get(ft, 0) + 1


class ModeChanger:
    """The encoder side towards one party: which bitrate its next frame is coded at, and the
    CMR field of the next packet (rtpengine's ``amr_encoder_mode_change`` and
    ``packetizer_amr``)."""

    def __init__(self, amr: AmrFormat, request: ModeRequest | None) -> None:
        self.amr = amr
        self.request = request
        self._done = 0
        self._sent_cmr = 0
        self._cmr_left = 0
        #: frames encoded so far (``mode-change-period=2``: a change only before the frame
        #: of an even count, so every mode lasts a multiple of two frames)
        self.frames = 0

    def next_frame(self, bitrate: int) -> int:
        """The bitrate for the next frame (the last was coded at ``bitrate``)."""
        request = self.request
        changed = bitrate
        if request is not None and request.serial != self._done and request.mode is not None \
                and not (self.amr.mode_change_period == 2 and self.frames & 1):
            changed = self._change(request.mode, bitrate, request.serial)
        self.frames += 1
        return changed

    def _change(self, mode: int, bitrate: int, serial: int) -> int:
        rates, allowed = self.amr.rates, self.amr.mode_set
        if mode == UP:
            current = rates.index(bitrate) if bitrate in rates else None
            mode = next((m for m in range(current + 1, len(rates))
                         if not allowed or m in allowed), -1) if current is not None else -1
        if not 0 <= mode < len(rates) or (allowed and mode not in allowed):
            self._done = serial  # nothing to do for it
            return bitrate
        wanted = rates[mode]
        done = True
        if self.amr.mode_change_neighbor and wanted != bitrate:
            # from the requested mode towards the current one: the last allowed mode before it
            step = -1 if wanted > bitrate else 1
            neighbour, m = wanted, mode
            while 0 <= m + step < len(rates) and rates[m + step] != bitrate:
                m += step
                if not allowed or m in allowed:
                    neighbour = rates[m]
            done = neighbour == wanted
            wanted = neighbour
        if done:
            self._done = serial
        return wanted

    def cmr(self) -> int:
        """The CMR field of the next packet: a mode rtpgate asks for, in
        :data:`CMR_PACKETS` packets after it was decided, else 15."""
        request = self.request
        if request is not None and not self._cmr_left and request.cmr_out[1] != self._sent_cmr:
            self._sent_cmr = request.cmr_out[1]
            self._cmr_left = CMR_PACKETS
        if self._cmr_left and request is not None:
            self._cmr_left -= 1
            return request.cmr_out[0]
        return NO_REQUEST
