"""A subscriber's own RTP output context: the SSRC, sequence numbers and timestamps it gets.

Publish/subscribe (issue 15) gives every subscriber its own SSRC/sequence/timestamp space.  An
:class:`OutputContext` belongs to one subscriber's RTP stream (its RTCP stream shares it) and
maps what the source sends onto what the subscriber gets:

* It starts *aligned with the source*: the output SSRC is the first source SSRC relayed to this
  subscriber and both offsets are 0, so while the source is continuous a subscriber gets the
  source's packets byte for byte, as rtpengine's (its pub/sub test script checks that).
* When the source changes its SSRC, restarts or jumps its sequence numbers (a step outside
  RFC 3550's ``MAX_DROPOUT``/``MAX_MISORDER``, appendix A.1), or when the subscriber is moved to
  another source, the context *rebases*: the next packet keeps the output SSRC and gets the
  last output sequence number + 1 and the last output timestamp advanced by the media time
  that passed since the subscriber's last packet (at the payload type's clock rate, from the
  subscriber's codecs: :attr:`OutputContext.rates`), at least by the last packet's duration
  (the timestamp step between the last two packets in order; 160, 20 ms at 8 kHz, before two
  were seen; alone when the clock rate is not known).  rtpengine passes such a change
  straight through to a plain subscriber; docs/compatibility.md says what its test script
  sees of the difference.
* Each subscriber's context is its own: one that joins after a source SSRC change starts
  aligned with the new SSRC.

RTCP the source sends (:meth:`rtcp`): the sender SSRC of a sender report and of SDES chunks is
mapped to the output SSRC when it is the source's current one, and a sender report's RTP
timestamp gets the timestamp offset, so a subscriber can tie its stream to the sender's clock.

The state is an :class:`array.array` of 64-bit integers, so the native read loop
(``_fastrelay.c``, ``Copy.context``) reads and advances the very same numbers without calling
Python for packets that need no rebase; the field order is the C enum ``CTX_*``.  A packet that
does need one (another SSRC, a jump, the first packet) is handed to Python, which rebases here.
"""

from __future__ import annotations

from array import array

from .rtcp import RR, SDES, SR, packets

#: Field indices of :attr:`OutputContext.state` (the same order as ``CTX_*`` in _fastrelay.c);
#: ``LAST_TIME``: when the last packet in order was relayed, in ms of the wall clock.
SSRC_OUT, SEQ_OFFSET, TS_OFFSET, SSRC_IN, LAST_SEQ, LAST_TS, STEP, LAST_TIME, FIELDS = range(9)
#: :data:`SSRC_IN` before the first packet.
UNSET = -1
#: RFC 3550 appendix A.1: a forward step larger than this, or a backward one larger than
#: :data:`MAX_MISORDER`, is a restart of the source's numbering, not loss or reordering.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
#: The timestamp step assumed before two packets in order were seen (20 ms at 8 kHz).
DEFAULT_STEP = 160
#: A timestamp step between consecutive packets larger than this is not a packet's duration
#: (a source's timestamp jump): the previous step is kept.
MAX_STEP = 90000


class OutputContext:
    """One subscriber's output SSRC and offsets, and where its stream is now."""

    __slots__ = ("_aligned", "_source", "rates", "state")

    def __init__(self) -> None:
        #: ``SSRC_OUT, SEQ_OFFSET, TS_OFFSET, SSRC_IN, LAST_SEQ, LAST_TS, STEP, LAST_TIME``
        #: (source side: ``SSRC_IN``, ``LAST_SEQ``, ``LAST_TS``; output = source + offset).
        #: Never replaced: the native reader holds its buffer.
        self.state = array("q", [0, 0, 0, UNSET, 0, 0, DEFAULT_STEP, 0])
        #: The RTP clock rate of each payload type the subscriber gets (set by the engine's
        #: sync from the subscriber's codecs).
        self.rates: dict[int, int] = {}
        #: ``SSRC_IN`` as the 4 bytes of a header, and whether the subscriber's header is the
        #: source's (only :meth:`_rebase` changes them, so the per-packet path reads these).
        self._source = b""
        self._aligned = True

    @property
    def identity(self) -> bool:
        """What the subscriber gets is what the source sends (aligned, or not started)."""
        s = self.state
        return s[SSRC_IN] == UNSET or (s[SSRC_OUT] == s[SSRC_IN] and not s[SEQ_OFFSET]
                                       and not s[TS_OFFSET])

    def rtp(self, data: bytes, now: float) -> bytes:
        """``data`` (RTP, header checked by the caller), relayed at ``now`` (``time.time()``),
        as this subscriber gets it; advances the context."""
        s = self.state
        seq = data[2] << 8 | data[3]
        step = (seq - s[LAST_SEQ]) & 0xFFFF
        if data[8:12] != self._source or MAX_DROPOUT < step < 0x10000 - MAX_MISORDER:
            self._rebase(data[8:12], seq, int.from_bytes(data[4:8], "big"), data[1] & 0x7F,
                         int(now * 1000))
        elif 0 < step <= MAX_DROPOUT:  # in order (not a reordered or repeated packet)
            ts = int.from_bytes(data[4:8], "big")
            if step == 1 and 0 < (ts - s[LAST_TS]) & 0xFFFFFFFF <= MAX_STEP:
                s[STEP] = (ts - s[LAST_TS]) & 0xFFFFFFFF
            s[LAST_SEQ] = seq
            s[LAST_TS] = ts
            s[LAST_TIME] = int(now * 1000)
        if self._aligned:
            return data
        ts = int.from_bytes(data[4:8], "big")
        return b"".join((data[:2], ((seq + s[SEQ_OFFSET]) & 0xFFFF).to_bytes(2, "big"),
                         ((ts + s[TS_OFFSET]) & 0xFFFFFFFF).to_bytes(4, "big"),
                         s[SSRC_OUT].to_bytes(4, "big"), data[12:]))

    def _rebase(self, source: bytes, seq: int, ts: int, pt: int, now_ms: int) -> None:
        """The source's numbering broke (or this is the first packet): go on from where the
        subscriber's stream is."""
        s = self.state
        ssrc = int.from_bytes(source, "big")
        if s[SSRC_IN] == UNSET:
            s[SSRC_OUT] = ssrc
            s[SEQ_OFFSET] = s[TS_OFFSET] = 0
        else:
            advance = s[STEP]
            rate = self.rates.get(pt)
            if rate and now_ms > s[LAST_TIME]:
                advance = max(advance, (now_ms - s[LAST_TIME]) * rate // 1000)
            next_seq = (s[LAST_SEQ] + s[SEQ_OFFSET] + 1) & 0xFFFF
            next_ts = (s[LAST_TS] + s[TS_OFFSET] + advance) & 0xFFFFFFFF
            s[SEQ_OFFSET] = (next_seq - seq) & 0xFFFF
            s[TS_OFFSET] = (next_ts - ts) & 0xFFFFFFFF
        s[SSRC_IN] = ssrc
        s[LAST_SEQ] = seq
        s[LAST_TS] = ts
        s[LAST_TIME] = now_ms
        self._source = source
        self._aligned = s[SSRC_OUT] == ssrc and not s[SEQ_OFFSET] and not s[TS_OFFSET]

    def rtcp(self, data: bytes) -> bytes:
        """RTCP from the source as this subscriber gets it: SR and SDES sender SSRC mapped to
        the output SSRC, the SR's RTP timestamp moved by the timestamp offset.  Unchanged while
        aligned."""
        s = self.state
        source, own = s[SSRC_IN], s[SSRC_OUT]
        if source == UNSET or self.identity:
            return data
        out = bytearray(data)
        for offset, kind, length in packets(out):
            if kind in (SR, RR) and int.from_bytes(out[offset + 4:offset + 8], "big") == source:
                out[offset + 4:offset + 8] = own.to_bytes(4, "big")
                if kind == SR and length >= 28:
                    ts = int.from_bytes(out[offset + 16:offset + 20], "big")
                    out[offset + 16:offset + 20] = ((ts + s[TS_OFFSET]) & 0xFFFFFFFF
                                                    ).to_bytes(4, "big")
            elif kind == SDES:
                self._sdes(out, offset, length, source, own)
        return bytes(out)

    @staticmethod
    def _sdes(out: bytearray, offset: int, length: int, source: int, own: int) -> None:
        """Map the SSRC of each SDES chunk that names the source (RFC 3550 6.5)."""
        end = offset + length
        at = offset + 4
        for _ in range(out[offset] & 0x1F):
            if at + 4 > end:
                return
            if int.from_bytes(out[at:at + 4], "big") == source:
                out[at:at + 4] = own.to_bytes(4, "big")
            at += 4
            while at < end and out[at]:  # items: type, length, text; a 0 type ends them
                at += 2 + out[at + 1] if at + 1 < end else end
            at = (at + 4) & ~3  # the null octet(s) pad the chunk to 32 bits
