"""Parsing rtpengine's listener address syntax: ``[IP|HOSTNAME:]PORT`` and ``[IPv6]:PORT``."""

from __future__ import annotations

from typing import Annotated, NamedTuple

from pydantic import AfterValidator


class Endpoint(NamedTuple):
    host: str  #: ``""`` means every address (rtpengine binds the wildcard for a bare port)
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``8080`` -> ("", 8080); ``127.0.0.1:8080``; ``[::1]:8080``; ``localhost:8080``.

    Port 0 is allowed (the kernel picks one; the bound port is reported).
    """
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    elif host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"invalid address {text!r}: unbalanced brackets")
        host = host[1:-1]
    elif ":" in host:  # bare IPv6 without brackets and without port is not supported
        raise ValueError(f"invalid address {text!r}: put an IPv6 address in brackets")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"invalid address {text!r}: port must be 0-65535")
    return Endpoint(host, int(port_text))


def _checked(text: str) -> str:
    parse_endpoint(text)
    return text.strip()


#: Settings type of a listener option's items: validated at load time, kept as text.
ListenAddress = Annotated[str, AfterValidator(_checked)]
