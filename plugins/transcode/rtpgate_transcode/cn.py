"""Comfort noise (RFC 3389) and silence: rtpengine's ``--silence-detect``, ``--cn-payload`` and
DTX options, and the noise FFmpeg's ``comfortnoise`` codec makes from a CN payload.

* **CN consumed**: a CN packet from a party whose peer has no CN becomes one packet time of
  comfort noise in the peer's codec (decoded by FFmpeg's CN decoder).
* **CN made** (``--silence-detect``): on a transcoded direction towards a party that has CN, an
  output packet time whose audio is silence (every sample within the threshold: percent of full
  scale, rtpengine's meaning) goes out as a CN packet carrying ``--cn-payload`` (default level
  32, -32 dBov) instead of the codec's silence.
* **DTX** (``--dtx-delay`` and the other DTX options): rtpengine's DTX buffer, see
  :mod:`~rtpgate_transcode.dtx`.  A gap is filled with silence, or with comfort noise of
  ``--dtx-cn-params``; AMR input by its decoder (a NO_DATA frame: concealment or the noise of
  the last SID) unless ``--amr-dtx=CN``, which also replaces AMR SID frames by 20 ms of that
  silence or noise instead of decoding them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import av
from pydantic import AfterValidator, Field
from rtpgate.api import Option, SettingsView

from .dtx import DtxOptions

if TYPE_CHECKING:
    from rtpgate.api import Runtime


def _cn_params(values: list[int]) -> list[int]:
    """RFC 3389: the noise level (the first value) is 0-127 -dBov."""
    if values and values[0] > 127:
        raise ValueError("the noise level (the first value) must be 0-127")
    return values


def _amr_dtx(value: str) -> str:
    """``native`` or ``CN``, in any case (rtpengine: ``Invalid --amr-dtx``)."""
    if value.lower() not in ("native", "cn"):
        raise ValueError(f"Invalid --amr-dtx ('{value}'): native or CN")
    return value.lower()


CnParams = Annotated[list[Annotated[int, Field(ge=0, le=254)]], AfterValidator(_cn_params)]

OPTIONS: tuple[Option, ...] = (
    Option("silence-detect", Annotated[float, Field(ge=0, le=100)], 0.0,
           "audio level threshold in percent of full scale below which transcoded audio "
           "towards a party with CN is sent as comfort noise (0: off)", metavar="FLOAT"),
    Option("cn-payload", CnParams, [],
           "comfort noise parameters (RFC 3389: level in -dBov, then reflection coefficients) "
           "sent in place of detected silence (default: 32)", metavar="INT"),
    Option("dtx-delay", Annotated[int, Field(ge=0)], 0,
           "milliseconds without packets, beyond one packet time, after which a transcoded "
           "stream's gap is filled (0: off)", metavar="INT"),
    Option("max-dtx", int, 30,
           "seconds a gap is filled at most (0 or less: without end)", metavar="INT"),
    Option("dtx-buffer", Annotated[int, Field(ge=0)], 10,
           "packets held in the DTX buffer beyond which (with --dtx-lag) it is overflowing",
           metavar="INT"),
    Option("dtx-lag", Annotated[int, Field(ge=0)], 100,
           "milliseconds of audio held in the DTX buffer beyond which (with --dtx-buffer) it "
           "is overflowing", metavar="INT"),
    Option("dtx-shift", Annotated[int, Field(ge=0)], 5,
           "milliseconds the DTX timer is moved at an overflow or underflow (0: packets are "
           "dropped or audio added instead)", metavar="INT"),
    Option("amr-dtx", Annotated[str, AfterValidator(_amr_dtx)], "native",
           "DTX of AMR and AMR-WB: the codec's own (native: SID frames and gaps go to the "
           "decoder) or CN (SID frames and gaps replaced by silence or --dtx-cn-params noise)",
           metavar="native|CN"),
    Option("dtx-cn-params", CnParams, [],
           "comfort noise parameters (as --cn-payload) for the noise that fills DTX gaps "
           "(default: silence)", metavar="INT"),
)


class CnOptions(SettingsView):
    """The options above, as :meth:`CnSettings.of` reads them."""

    silence_detect: float
    cn_payload: list[int]
    dtx_delay: int
    max_dtx: int
    dtx_buffer: int
    dtx_lag: int
    dtx_shift: int
    dtx_cn_params: list[int]
    amr_dtx: str


@dataclass(frozen=True, slots=True)
class CnSettings:
    """What the options say, read once when a stage is made."""

    #: largest sample magnitude (s16) that counts as silence; 0: no silence detection
    silence: int = 0
    cn_payload: bytes = b"\x20"
    dtx_delay_ms: int = 0
    max_dtx_s: int = 30
    #: CN parameters of the noise filling DTX gaps; empty: silence
    dtx_noise: bytes = b""
    dtx_buffer: int = 10
    dtx_lag_ms: int = 100
    dtx_shift_ms: int = 5
    #: ``--amr-dtx=CN``: AMR's SID frames and gaps become silence or noise, not decoded
    amr_dtx_cn: bool = False

    @property
    def dtx(self) -> DtxOptions:
        """The DTX buffer's options."""
        return DtxOptions(self.dtx_delay_ms / 1000, self.dtx_buffer, self.dtx_lag_ms / 1000,
                          self.dtx_shift_ms / 1000, float(self.max_dtx_s))

    @classmethod
    def of(cls, runtime: Runtime | None) -> CnSettings:
        """From the server's settings (the defaults without a runtime: tests)."""
        if runtime is None:
            return cls()
        settings = runtime.settings.view(CnOptions)
        percent = settings.silence_detect
        return cls(silence=max(1, int(percent / 100 * 65535)) if percent > 0 else 0,
                   cn_payload=bytes(settings.cn_payload) or b"\x20",
                   dtx_delay_ms=settings.dtx_delay, max_dtx_s=settings.max_dtx,
                   dtx_noise=bytes(settings.dtx_cn_params), dtx_buffer=settings.dtx_buffer,
                   dtx_lag_ms=settings.dtx_lag, dtx_shift_ms=settings.dtx_shift,
                   amr_dtx_cn=settings.amr_dtx == "cn")


def silent(pcm: bytes, threshold: int) -> bool:
    """Whether every s16 sample of ``pcm`` is within ``threshold`` of zero."""
    samples = array("h", pcm[:len(pcm) & ~1])
    return not samples or (max(samples) <= threshold and min(samples) >= -threshold)


class Noise:
    """Comfort noise at ``rate`` from CN payloads (FFmpeg's ``comfortnoise`` decoder)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        ctx = av.CodecContext.create("comfortnoise", "r")
        ctx.sample_rate = rate
        ctx.layout = "mono"
        ctx.open()
        self._decoder = ctx
        self._pcm = b""
        self._params = b"\x7f"  # -127 dBov until a payload says otherwise

    def take(self, samples: int, params: bytes | None = None) -> bytes:
        """``samples`` s16 mono samples of noise (of ``params`` if given, else the last)."""
        if params is not None and params != self._params:
            self._params, self._pcm = params, b""
        while len(self._pcm) < samples * 2:
            for frame in self._decoder.decode(av.Packet(self._params)):
                self._pcm += bytes(frame.planes[0])[:frame.samples * 2]
        out, self._pcm = self._pcm[:samples * 2], self._pcm[samples * 2:]
        return out
