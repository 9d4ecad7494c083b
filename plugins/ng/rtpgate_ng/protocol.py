"""The ng protocol with cookies, on every transport that carries it."""

from __future__ import annotations

import logging
import secrets

from rtpgate.api import (
    Channel,
    DatagramListener,
    HttpRoute,
    Message,
    NgDispatcher,
    Protocol,
    Rejected,
    Reply,
    StreamListener,
    ng_encode,
)

from .cookie_cache import CookieCache
from .framing import split_cookie, tcp_framer

CONTENT_TYPE = "application/x-rtpengine-ng"
NO_COOKIE = Rejected(600, b"error\n")
#: The largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
UDP_MAX = 65507
#: rtpengine's order of the keys of an ``onDTMF`` notification's ``data``.
DTMF_KEYS = ("tags", "callid", "source_tag", "type", "source_ip", "timestamp", "event",
             "duration", "volume")

log = logging.getLogger("rtpgate.ng")


class NgProtocol(Protocol):
    """``cookie SP payload`` in, ``cookie SP reply`` out; replies cached per cookie."""

    name = "ng"
    http_routes = (HttpRoute("POST", "/ng", content_types=(CONTENT_TYPE,)),)
    ws_subprotocol = "ng.rtpengine.com"
    listeners = (DatagramListener("listen_ng"),
                 StreamListener("listen_tcp_ng", tcp_framer, max_buffer=65536))

    def __init__(self, dispatcher: NgDispatcher, cache: CookieCache) -> None:
        self.dispatcher = dispatcher
        self.cache = cache
        #: The open TCP connections (``--listen-tcp-ng``), for notifications.
        self.tcp_clients: set[Channel] = set()

    def stream_opened(self, channel: Channel) -> None:
        self.tcp_clients.add(channel)

    def stream_closed(self, channel: Channel) -> None:
        self.tcp_clients.discard(channel)

    def notify_dtmf(self, event: dict[str, object]) -> None:
        """``--dtmf-log-ng-tcp``: the event, as rtpengine's ``notify_ng_tcp_clients`` sends it
        (``daemon/dtmf.c``): a random 16-hex-digit cookie, a space and the bencoded
        ``{"notify": "onDTMF", "data": {...}}``, to every connected TCP client (one that does
        not read misses events, it is not waited for)."""
        data = {key: event[key] for key in DTMF_KEYS if key in event}
        body = ng_encode({"notify": "onDTMF", "data": data}, "bencode")
        for channel in list(self.tcp_clients):
            if not channel.send(secrets.token_hex(8).encode() + b" " + body):
                log.info("onDTMF notification to %s not sent (closed or not reading)",
                         channel.peer)

    async def handle(self, message: Message) -> Reply:
        framed = split_cookie(message.body)
        if framed is None:
            raise NO_COOKIE
        cookie, payload = framed

        # the reply must fit in one datagram, cookie included (IPv4's UDP payload maximum)
        datagram = message.transport == "udp"
        max_reply = UDP_MAX - len(cookie) - 1 if datagram else None

        if self.dispatcher.routed:  # workers: the reply is cached where the request runs
            # a datagram's request may be dropped under overload (Rejected: no reply, the
            # client retransmits), as a full socket buffer drops it
            reply = await self.dispatcher.process(payload, message.peer, message.transport,
                                                  max_reply, key=cookie,
                                                  listener=message.local, droppable=datagram)
            return Reply(cookie + b" " + reply, CONTENT_TYPE)

        async def compute() -> bytes:
            return await self.dispatcher.process(payload, message.peer, message.transport,
                                                 max_reply)

        reply = await self.cache.run(cookie, compute)
        return Reply(cookie + b" " + reply, CONTENT_TYPE)
