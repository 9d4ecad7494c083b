"""ng without cookies and without the cookie cache (rtpengine mr12.3+)."""

from __future__ import annotations

from rtpgate.api import HttpRoute, Message, NgDispatcher, Protocol, Reply

NG_TYPE = "application/x-rtpengine-ng"
JSON_TYPE = "application/json"


class NgPlainProtocol(Protocol):
    """A bare bencode dictionary or JSON object in, the bare reply out.  Over HTTP the reply's
    content type is ``application/json`` exactly when the request's was."""

    name = "ng-plain"
    http_routes = (HttpRoute("POST", "/ng-plain", content_types=(NG_TYPE, JSON_TYPE)),)
    ws_subprotocol = "ng-plain.rtpengine.com"

    def __init__(self, dispatcher: NgDispatcher) -> None:
        self.dispatcher = dispatcher

    async def handle(self, message: Message) -> Reply:
        reply = await self.dispatcher.process(message.body, message.peer, message.transport)
        json_request = (message.content_type or "").lower() == JSON_TYPE
        return Reply(reply, JSON_TYPE if json_request else NG_TYPE)
