"""Everything this plugin uses from rtpgate's core, in one place (the public surface it
relies on: the engine's call model, its engine object and the option type)."""

from __future__ import annotations

from rtpgate import hookimpl
from rtpgate.engine.engine import Engine
from rtpgate.engine.interfaces import LocalAddress
from rtpgate.engine.model import (
    MF_ASYMMETRIC,
    MF_ICE,
    MF_ICE_CONTROLLING,
    MF_ICE_LITE_PEER,
    MF_INITIALIZED,
    MF_LOOP_CHECK,
    MF_PTIME_OVERRIDE,
    MF_RECV,
    MF_RTCP_MUX,
    MF_RTCP_MUX_OVERRIDE,
    MF_SEND,
    MF_TRANSCODING,
    MF_TRICKLE_ICE,
    MF_UNIDIRECTIONAL,
    PS_CONFIRMED,
    PS_FALLBACK_RTCP,
    PS_FILLED,
    PS_ICE,
    PS_IMPLICIT_RTCP,
    PS_MEDIA_HANDOVER,
    PS_RTCP,
    PS_RTP,
    PS_STRICT_SOURCE,
    PS_ZERO_ADDR,
    Call,
    Endpoint,
    EndpointMap,
    IceCredentials,
    Media,
    Monologue,
    Recording,
    Stream,
)
from rtpgate.engine.ports import MediaSocket
from rtpgate.options import Option
from rtpgate.runtime import Runtime

__all__ = [
    "MF_ASYMMETRIC", "MF_ICE", "MF_ICE_CONTROLLING", "MF_ICE_LITE_PEER", "MF_INITIALIZED",
    "MF_LOOP_CHECK", "MF_PTIME_OVERRIDE", "MF_RECV", "MF_RTCP_MUX", "MF_RTCP_MUX_OVERRIDE",
    "MF_SEND", "MF_TRANSCODING", "MF_TRICKLE_ICE", "MF_UNIDIRECTIONAL", "PS_CONFIRMED",
    "PS_FALLBACK_RTCP", "PS_FILLED", "PS_ICE", "PS_IMPLICIT_RTCP", "PS_MEDIA_HANDOVER",
    "PS_RTCP", "PS_RTP", "PS_STRICT_SOURCE", "PS_ZERO_ADDR", "Call", "Endpoint", "EndpointMap",
    "Engine", "IceCredentials", "LocalAddress", "Media", "MediaSocket", "Monologue", "Option",
    "Recording", "Runtime", "Stream", "hookimpl",
]
