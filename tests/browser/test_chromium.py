"""A real browser through rtpgate: Debian's chromium (headless, fake audio device) calls a plain
RTP endpoint, then the plain endpoint calls the browser.

The browser's side speaks WebRTC (``UDP/TLS/RTP/SAVPF``, ICE, DTLS-SRTP, rtcp-mux); the plain side
is a Python UDP socket that sends and receives PCMU.  rtpgate is driven with the flags
Kamailio's WebRTC examples use: towards SIP ``ICE=remove DTLS=off RTP/AVP rtcp-mux-demux``,
towards the browser ``ICE=force DTLS=passive UDP/TLS/RTP/SAVPF`` (and ``WebRTC`` when the
browser is called).  The test passes when ICE and DTLS complete, the browser's ``getStats()``
counts audio packets received and the plain endpoint receives the browser's audio as plain RTP.

Chromium gathers candidates on every interface, so the tests run in a network namespace with
only a loopback interface (``tox -e browser`` makes it with ``unshare --net``); elsewhere they are
skipped, so that no check ever goes to an address outside this machine's loopback.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rtpgate.testing import ServerProcess, media_ports

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LOCAL = "127.0.0.1"
HERE = Path(__file__).parent


def _only_loopback() -> bool:
    """True in a network namespace whose only interface is ``lo``."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists(),
                       reason="chromium and chromium-driver (Debian) are not installed"),
    pytest.mark.skipif(not _only_loopback(),
                       reason="needs a network namespace with only lo (run: tox -e browser)"),
]

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200))


@pytest.fixture(scope="module")
def page_url() -> Iterator[str]:
    """The test page, served over HTTP from this directory."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HERE))
    httpd = http.server.ThreadingHTTPServer((LOCAL, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL}:{httpd.server_address[1]}/page.html"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser(page_url: str) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    try:
        driver.get(page_url)
        yield driver
    finally:
        driver.quit()


def call_js(driver: Any, function: str, *args: Any) -> Any:
    """Await one of the page's async functions."""
    script = (f"const done = arguments[arguments.length - 1];"
              f"{function}(...Array.from(arguments).slice(0, -1))"
              f".then(done, (e) => done({{error: String(e)}}));")
    result = driver.execute_async_script(script, *args)
    assert not (isinstance(result, dict) and "error" in result), result
    return result


class Plain:
    """The SIP phone's media: sends PCMU every 20 ms to the relay, records what arrives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.sock.settimeout(0.1)
        self.received: list[bytes] = []
        self.relay: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def sdp(self) -> str:
        return (f"v=0\r\no=phone 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
                f"m=audio {self.port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")

    def start(self, relay: tuple[str, int]) -> None:
        self.relay = relay
        for thread in self._threads:
            thread.start()

    def rtp(self) -> list[bytes]:
        return [d for d in list(self.received)
                if len(d) >= 12 and d[0] >> 6 == 2 and not 192 <= d[1] <= 223]

    def _send(self) -> None:
        seq = 0
        while not self._stop.is_set():
            seq += 1
            header = (bytes([0x80, 0]) + (seq & 0xFFFF).to_bytes(2, "big")
                      + (seq * 160 & 0xFFFFFFFF).to_bytes(4, "big") + b"\x00\x00\x5e\xed")
            assert self.relay is not None
            self.sock.sendto(header + bytes([0xFF]) * 160, self.relay)
            time.sleep(0.02)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.received.append(self.sock.recv(4096))
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(1)
        self.sock.close()


def ng(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    import json

    body = json.dumps({"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}})
    status, _, reply = server.http("POST", "/ng-plain", body.encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200, reply
    decoded: dict[str, Any] = json.loads(reply)
    assert decoded["result"] == "ok", decoded
    return decoded


def relay_of(sdp: str) -> tuple[str, int]:
    port = re.search(r"^m=audio (\d+) ", sdp, re.M)
    host = re.findall(r"^c=IN IP4 (\S+)", sdp, re.M)
    assert port and host, sdp
    return host[-1], int(port.group(1))


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def media_flows(browser: Any, plain: Plain) -> dict[str, Any]:
    """ICE and DTLS completed, the browser received audio, the phone received RTP (PCMU)."""
    stats = wait_for(lambda: (s := call_js(browser, "stats"))["connection"] == "connected"
                     and s, 30, "the browser's connection")
    assert stats["dtls"] == "connected", stats
    stats = wait_for(lambda: (s := call_js(browser, "stats"))["received"] >= 25 and s, 20,
                     "audio received by the browser")
    wait_for(lambda: len(plain.rtp()) >= 25, 20, "the browser's audio at the phone")
    assert all(packet[1] & 0x7F == 0 for packet in plain.rtp()), "not PCMU"
    return dict(stats)


def test_browser_calls_a_plain_rtp_phone(server: ServerProcess, browser: Any) -> None:
    call_id, plain = uuid.uuid4().hex, Plain()
    try:
        offer = call_js(browser, "makeOffer")
        to_phone = ng(server, "offer", call_id=call_id, from_tag="browser", sdp=offer,
                      ICE="remove", DTLS="off", transport_protocol="RTP/AVP",
                      rtcp_mux=["demux"])["sdp"]
        assert " RTP/AVP " in to_phone and "a=candidate" not in to_phone, to_phone
        to_browser = ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="phone",
                        sdp=plain.sdp(), ICE="force", DTLS="passive",
                        transport_protocol="UDP/TLS/RTP/SAVPF")["sdp"]
        assert "a=setup:passive" in to_browser and "a=fingerprint:" in to_browser, to_browser
        plain.start(relay_of(to_phone))
        call_js(browser, "takeAnswer", to_browser)
        media_flows(browser, plain)
        query = ng(server, "query", call_id=call_id)
        media = query["tags"]["browser"]["medias"][0]
        assert {"DTLS-SRTP", "DTLS role passive", "ICE"} <= set(media["flags"]), media
        assert "DTLS fingerprint verified" in media["streams"][0]["flags"], media
    finally:
        plain.close()


def test_plain_rtp_phone_calls_the_browser(server: ServerProcess, browser: Any) -> None:
    call_id, plain = uuid.uuid4().hex, Plain()
    try:
        to_browser = ng(server, "offer", call_id=call_id, from_tag="phone", sdp=plain.sdp(),
                        flags=["WebRTC"], DTLS="passive")["sdp"]
        assert " UDP/TLS/RTP/SAVPF " in to_browser and "a=mid:" in to_browser, to_browser
        answer = call_js(browser, "answerOffer", to_browser)
        to_phone = ng(server, "answer", call_id=call_id, from_tag="phone", to_tag="browser",
                      sdp=answer, ICE="remove", DTLS="off", transport_protocol="RTP/AVP",
                      rtcp_mux=["demux"])["sdp"]
        assert " RTP/AVP " in to_phone and "a=fingerprint" not in to_phone, to_phone
        plain.start(relay_of(to_phone))
        media_flows(browser, plain)
        query = ng(server, "query", call_id=call_id)
        media = query["tags"]["browser"]["medias"][0]
        assert {"DTLS-SRTP", "ICE", "ICE controlling"} <= set(media["flags"]), media
    finally:
        plain.close()
