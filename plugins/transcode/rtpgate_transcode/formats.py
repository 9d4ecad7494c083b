"""The audio codecs this plugin knows: how an RTP codec maps onto an FFmpeg codec.

Each :class:`AudioCodec` names the FFmpeg decoder and encoder (``None`` where FFmpeg has none in
PyAV's wheels: GSM, G.729, iLBC and AMR-WB can be received, never sent), the audio sample rate
FFmpeg works at (G.722 is 16 kHz audio on an 8 kHz RTP clock, RFC 3551 4.5.2) and what one RTP
payload holds.  AMR and AMR-WB payloads (RFC 4867, octet-aligned or bandwidth-efficient) are
converted to and from FFmpeg's frames by :mod:`~rtpgate_transcode.amr`; AMR-NB is sent with
libopencore's encoder.  Both are decoded with libopencore's decoders (in PyAV's wheels), as
rtpengine decodes AMR: FFmpeg's own ``amrnb`` and ``amrwb`` refuse SID frames ("not yet
implemented") and ``amrnb`` a NO_DATA frame, so they could neither decode a sender's DTX nor
conceal a gap (``--amr-dtx=native``).  An iLBC payload is one or more 20 ms (38 bytes) or
30 ms (50 bytes) frames, as its fmtp ``mode`` says (RFC 3952; 30 without one).

G.726 (``G726-16/24/32/40``, the names and bitrates rtpengine knows; RFC 3551 4.5.4 packing,
FFmpeg's ``g726le``) is sent as rtpengine sends it: FFmpeg's encoder takes frames of a size
it fixes itself (4096, 2736, 2048 or 1640 samples: about 1 KB of output) and PyAV cannot
change it, so each encoded frame is split into packets of one ptime of the byte stream (the
sample codecs' packetiser below, rtpengine's ``packetizer_samplestream``).  That is 205 to 512
ms of delay in that direction, as in rtpengine.  The decoder needs the bits per sample given
(``bits_per_coded_sample``).

Sample codecs (G.711, G.722, G.726) make one continuous byte stream: a packet of any ptime is
``bytes_per_ms`` times ptime bytes of it.  Frame codecs (opus, AMR) give one encoder packet per
20 ms (opus: per RTP packet, the encoder set to the ptime); AMR packs ptime/20 frames into one
RTP packet.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtpgate.api import CodecCapability


@dataclass(frozen=True, slots=True)
class AudioCodec:
    name: str  #: rtpmap encoding name
    clock: int  #: RTP clock rate
    rate: int  #: audio sample rate of the FFmpeg codec
    decoder: str | None
    encoder: str | None
    rtpmap_channels: int = 1
    #: payload bytes per millisecond of a sample codec; 0 for a frame codec
    bytes_per_ms: int = 0
    bit_rate: int = 0
    #: ``a=fmtp`` written when rtpgate adds the codec to an offer
    fmtp: str = ""
    #: RTP payload format other than "one FFmpeg packet": ``amr``, ``amr-wb``, ``ilbc``
    framing: str = ""
    #: bits per sample the decoder must be told (G.726)
    coded_bits: int = 0

    @property
    def capability(self) -> CodecCapability:
        return CodecCapability(self.name, self.clock, self.rtpmap_channels,
                               decode=self.decoder is not None,
                               encode=self.encoder is not None, fmtp=self.fmtp)

    def samples(self, ptime_ms: int) -> int:
        """Audio samples (per channel) in ``ptime_ms`` milliseconds."""
        return self.rate * ptime_ms // 1000

    def ticks(self, samples: int) -> int:
        """RTP timestamp units for ``samples`` audio samples."""
        return samples * self.clock // self.rate


CODECS: tuple[AudioCodec, ...] = (
    AudioCodec("PCMU", 8000, 8000, "pcm_mulaw", "pcm_mulaw", bytes_per_ms=8),
    AudioCodec("PCMA", 8000, 8000, "pcm_alaw", "pcm_alaw", bytes_per_ms=8),
    AudioCodec("G722", 8000, 16000, "g722", "g722", bytes_per_ms=8),
    AudioCodec("opus", 48000, 48000, "libopus", "libopus", rtpmap_channels=2),
    AudioCodec("opus", 48000, 48000, "libopus", "libopus"),
    AudioCodec("AMR", 8000, 8000, "libopencore_amrnb", "libopencore_amrnb", framing="amr",
               fmtp="octet-align=1;mode-change-capability=2"),
    AudioCodec("AMR-WB", 16000, 16000, "libopencore_amrwb", None, framing="amr-wb",
               fmtp="octet-align=1;mode-change-capability=2"),
    *(AudioCodec(f"G726-{kbit}", 8000, 8000, "g726le", "g726le", bytes_per_ms=kbit // 8,
                 bit_rate=kbit * 1000, coded_bits=kbit // 8) for kbit in (16, 24, 32, 40)),
    AudioCodec("iLBC", 8000, 8000, "ilbc", None, framing="ilbc", fmtp="mode=30"),
    AudioCodec("GSM", 8000, 8000, "gsm", None),
    AudioCodec("G729", 8000, 8000, "g729", None),
)


def find(encoding: str) -> AudioCodec | None:
    """The codec of an rtpmap text (``opus/48000/2``, ``PCMA/8000``), case-insensitively."""
    parts = encoding.split("/")
    name = parts[0].lower()
    clock = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    for codec in CODECS:
        if codec.name.lower() == name and clock in (None, codec.clock):
            return codec
    return None


def clocks() -> list[int]:
    """The RTP clock rates of the codecs, each once, in table order."""
    return list(dict.fromkeys(codec.clock for codec in CODECS))
