"""The RTP/RTCP relay on the event loop (``docs/media.md`` has the whole story).

How the engine uses it::

    relay = Relay(runtime.stats)                   # one per server; no I/O
    a = relay.open(sock_a, ("default", "127.0.0.1"))   # the port advertised to party A
    b = relay.open(sock_b, ("default", "127.0.0.1"))   # the port advertised to party B
    a.fill(("192.0.2.1", 4000)); a.signal()      # A's SDP address; offer/answer seen
    a.link(b); b.link(a)                         # A's packets leave from b to B, and back
    a.configure(strict_source=True)              # flags from the offer/answer
    a.set_control(MediaControl.for_codecs({0: "PCMU/8000"}, block_media=True))
    a.set_ice(IceCredentials(ufrag, pwd))         # rtpgate's own ICE credentials on that port
    a.set_pipeline(Pipeline(ingress=(decrypt,), dtls=handshake))  # stages and handlers
    ...
    a.release(); sock_a.close()                  # release before closing the socket

Per-stream counters (``stats_in``/``stats_out`` packets, bytes, errors; ``last_packet``;
``ssrcs``; ``drops``) are on the :class:`RelayStream`; the relay also counts every packet into
``runtime.stats`` (``relayed`` and the per-interface ingress/egress), the one set of counters
that ``statistics``, the CLI and ``/metrics`` read.
"""

from .control import MediaControl
from .ice import IceCredentials
from .pipeline import DatagramHandler, Pipeline, Stage
from .relay import Relay
from .stream import Learning, RelayStream

__all__ = ["DatagramHandler", "IceCredentials", "Learning", "MediaControl", "Pipeline", "Relay",
           "RelayStream", "Stage"]
