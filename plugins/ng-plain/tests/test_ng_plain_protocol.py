"""The ng-plain protocol called directly (only core and this plugin installed)."""

from __future__ import annotations

import asyncio

import pytest
import rtpgate_ng_plain.plugin
from rtpgate.api import Message
from rtpgate.testing import get_protocol, make_runtime
from rtpgate_ng_plain.protocol import NgPlainProtocol


@pytest.fixture
def protocol() -> NgPlainProtocol:
    protocol = get_protocol(make_runtime(rtpgate_ng_plain.plugin), "ng-plain")
    assert isinstance(protocol, NgPlainProtocol)
    return protocol


def handle(protocol: NgPlainProtocol, body: bytes, content_type: str | None
           ) -> tuple[bytes, str | None]:
    reply = asyncio.run(protocol.handle(Message(body, "http", content_type=content_type)))
    assert reply is not None
    return reply.body, reply.content_type


def test_declares_its_addresses(protocol: NgPlainProtocol) -> None:
    [route] = protocol.http_routes
    assert (route.method, route.path) == ("POST", "/ng-plain")
    assert set(route.content_types) == {"application/x-rtpengine-ng", "application/json"}
    assert protocol.ws_subprotocol == "ng-plain.rtpengine.com"
    assert not protocol.listeners


def test_json_request_gets_a_json_reply_type(protocol: NgPlainProtocol) -> None:
    assert handle(protocol, b'{"command":"ping"}', "application/json") == (
        b'{"result":"pong"}', "application/json")
    assert handle(protocol, b'{"command":"ping"}', "APPLICATION/JSON")[1] == "application/json"


def test_ng_content_type_keeps_the_ng_reply_type(protocol: NgPlainProtocol) -> None:
    assert handle(protocol, b"d7:command4:pinge", "application/x-rtpengine-ng") == (
        b"d6:result4:ponge", "application/x-rtpengine-ng")
    # JSON payload sent as application/x-rtpengine-ng: JSON body, ng content type (rtpengine)
    assert handle(protocol, b'{"command":"ping"}', "application/x-rtpengine-ng") == (
        b'{"result":"pong"}', "application/x-rtpengine-ng")


def test_no_cookie_and_no_cache(protocol: NgPlainProtocol) -> None:
    # a cookie-framed body is not understood here: it is an invalid payload
    body, _ = handle(protocol, b"ck1 d7:command4:pinge", "application/x-rtpengine-ng")
    assert body == b"d6:result5:error12:error-reason22:Invalid NG data formate"
    # the same payload twice runs twice (no cache): both pong
    for _ in range(2):
        assert handle(protocol, b"d7:command4:pinge", None)[0] == b"d6:result4:ponge"
