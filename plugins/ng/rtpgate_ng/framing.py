"""ng framing: ``cookie SP payload``; on TCP a payload is exactly one bencode dictionary."""

from __future__ import annotations

from rtpgate.api import bencode_prefix_length


def split_cookie(message: bytes) -> tuple[bytes, bytes] | None:
    """``(cookie, payload)``, or ``None`` when there is no cookie (no space, or a space first),
    which rtpengine answers with HTTP 600 and silence elsewhere."""
    cookie, sep, payload = message.partition(b" ")
    if not sep or not cookie:
        return None
    return cookie, payload


def tcp_framer(buffer: bytes) -> tuple[list[bytes], int]:
    """Cut complete ``cookie SP bencode-dict`` messages off the front of a TCP stream, as
    rtpengine does: only bencode forms a message, so JSON over TCP never completes."""
    messages = []
    used = 0
    while True:
        space = buffer.find(b" ", used)
        if space < 0:
            break
        try:
            length = bencode_prefix_length(buffer[space + 1:])
        except ValueError:
            break
        end = space + 1 + length
        messages.append(buffer[used:end])
        used = end
    return messages, used
