"""The engine's configuration options: rtpengine's names, short flags and defaults.

The timers and limits read these settings each time they decide, so a change made while running
(the CLI's ``set timeout 10``) applies to calls already running.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .. import __version__
from ..config import SettingsView
from ..media.dtls import DEFAULT_CIPHERS
from ..options import Option

Seconds = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0)]


def software_id(text: str) -> str:
    """rtpengine's canonical form of ``--software-id``: every character but ASCII letters,
    digits and ``-`` becomes ``-`` (``rtpengine-10.5.3.5-1~deb12u1`` is written
    ``rtpengine-10-5-3-5-1-deb12u1``)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", text)


SoftwareId = Annotated[str, Field(min_length=1), AfterValidator(software_id)]

ENGINE_OPTIONS: tuple[Option, ...] = (
    Option("max-sessions", Annotated[int, Field(ge=-1)], -1,
           "refuse new calls beyond this many sessions (-1: no limit)", metavar="INT"),
    Option("max-cpu", NonNegative, 0.0,
           "refuse new calls while CPU usage (percent, all cores) exceeds this (0: off)",
           metavar="FLOAT"),
    Option("max-load", NonNegative, 0.0,
           "refuse new calls while the 1-minute load average exceeds this (0: off)",
           metavar="FLOAT"),
    Option("max-bandwidth", Annotated[int, Field(ge=0)], 0,
           "refuse new calls while relayed media exceeds this many bytes per second (0: off)",
           metavar="INT"),
    Option("timeout", Seconds, 60,
           "end a call after this many seconds without media (0: never)", short="-o",
           metavar="SECS"),
    Option("silent-timeout", Seconds, 3600,
           "the same for calls on hold (not receiving) (0: never)", short="-s", metavar="SECS"),
    Option("final-timeout", Seconds, 0,
           "end every call this many seconds after it started (0: never)", short="-a",
           metavar="SECS"),
    Option("offer-timeout", Seconds, 3600,
           "end a call whose offer was not answered after this many seconds (0: never)",
           metavar="SECS"),
    Option("max-media-sections", Annotated[int, Field(ge=1)], 32,
           "refuse an offer or answer whose SDP has more m= sections than this (each costs "
           "ports and loop time; rtpengine has no limit)", metavar="INT"),
    Option("max-sdp-lines", Annotated[int, Field(ge=1)], 4096,
           "refuse an offer or answer whose SDP has more lines than this", metavar="INT"),
    Option("ng-max-items", Annotated[int, Field(ge=16)], 2048,
           "refuse an ng message with more than this many keys, values and list items in all "
           "(decoding stops there, so no message holds the event loop for long)",
           metavar="INT"),
    Option("delete-delay", Seconds, 30,
           "keep a deleted call this many seconds before freeing it (its ports stay reserved)",
           short="-d", metavar="INT"),
    Option("dtls-cert-cipher", str, "prime256v1",
           "key type of the DTLS certificate made at startup: prime256v1 (ECDSA) or RSA",
           metavar="prime256v1|RSA"),
    Option("dtls-rsa-key-size", Annotated[int, Field(ge=1024, le=16384)], 2048,
           "RSA key size of the DTLS certificate (with --dtls-cert-cipher=RSA)", metavar="INT"),
    Option("dtls-signature", str, "sha-256",
           "hash the DTLS certificate is signed with (sha-256, sha-1 ...)", metavar="HASH"),
    Option("dtls-ciphers", str, DEFAULT_CIPHERS,
           "OpenSSL cipher list for DTLS handshakes", metavar="STRING"),
    Option("dtmf-log-dest", Annotated[str, Field(pattern=r"^(|.+:[0-9]{1,5})$")], "",
           "send each RFC 4733 DTMF event a party sends, when it ends, as JSON to this UDP "
           "address (rtpengine's format)", metavar="HOST:PORT"),
    Option("dtls-mtu", Annotated[int, Field(ge=256, le=65535)], 1200,
           "largest DTLS datagram sent", metavar="INT"),
    Option("dtls-passive", bool, False,
           "take the passive DTLS role when an offer leaves the choice (a=setup:actpass)"),
    Option("software-id", SoftwareId, software_id(f"rtpgate-{__version__}"),
           "what the s= line of the SDPs rtpgate makes itself says (publish answers, "
           "subscribe offers) and the SOFTWARE attribute of its ICE agents' STUN messages; "
           "characters other than letters, digits and '-' become '-', as "
           "in rtpengine (whose default is rtpengine-VERSION)", metavar="STRING"),
)


class EngineSettings(SettingsView):
    """The settings the engine reads, typed: ``runtime.settings.view(EngineSettings)``.  The
    engine's options above, and core's media interface and port range."""

    interface: list[str]
    port_min: int
    port_max: int
    max_sessions: int
    max_cpu: float
    max_load: float
    max_bandwidth: int
    timeout: int
    silent_timeout: int
    final_timeout: int
    offer_timeout: int
    max_media_sections: int
    max_sdp_lines: int
    ng_max_items: int
    delete_delay: int
    dtls_cert_cipher: str
    dtls_rsa_key_size: int
    dtls_signature: str
    dtls_ciphers: str
    dtmf_log_dest: str
    dtls_mtu: int
    dtls_passive: bool
    software_id: str
