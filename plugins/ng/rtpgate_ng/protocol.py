"""The ng protocol with cookies, on every transport that carries it."""

from __future__ import annotations

from rtpgate.api import (
    DatagramListener,
    HttpRoute,
    Message,
    NgDispatcher,
    Protocol,
    Rejected,
    Reply,
    StreamListener,
)

from .cookie_cache import CookieCache
from .framing import split_cookie, tcp_framer

CONTENT_TYPE = "application/x-rtpengine-ng"
NO_COOKIE = Rejected(600, b"error\n")
#: The largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
UDP_MAX = 65507


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

    async def handle(self, message: Message) -> Reply:
        framed = split_cookie(message.body)
        if framed is None:
            raise NO_COOKIE
        cookie, payload = framed

        # the reply must fit in one datagram, cookie included (IPv4's UDP payload maximum)
        max_reply = UDP_MAX - len(cookie) - 1 if message.transport == "udp" else None

        async def compute() -> bytes:
            return await self.dispatcher.process(payload, message.peer, message.transport,
                                                 max_reply)

        reply = await self.cache.run(cookie, compute)
        return Reply(cookie + b" " + reply, CONTENT_TYPE)
