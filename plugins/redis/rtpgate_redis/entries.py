"""The stored call's entries with fixed keys (``json``, ``sfd-N``, ``stream-N``, ``tag-N``,
``media-N``, ``map-N`` and, under ``rtpgate``, each tag's, media's and stream's own), made
either as Python values (JSON, and the exact bencode encoder) or straight as their bencode text.

Making an entry as a dictionary and encoding it afterwards walked every value twice in Python;
the bencode text of an entry whose keys are known is one f-string of its values and their
lengths (about 2.5 times faster for a six-key entry).  Each :class:`Entry` is declared once,
its keys in the order :mod:`.shape` passes their values (the order a JSON value keeps them in),
and gets two makers: the dictionary, and the text with its keys sorted as bencode wants them.
The makers are made with ``exec`` when the module loads, as :mod:`dataclasses` makes its
methods: a hand-written f-string per entry would be a second description of the shape to keep
in step with the first.

A key is written ``name`` (a string), ``name[]`` (a list of strings) or ``name{}`` (a value
made by another entry's maker: in text, its :data:`Encoded` tuple); a trailing ``?`` makes it
optional: None leaves it out.

Text is counted in characters, so it is bencode only while the whole value is ASCII:
:func:`.blob.bencode_text` checks that and gives None otherwise, and the call is then made with
:data:`AS_VALUES` and encoded exactly (byte lengths).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .blob import text_value

#: A value's bencode text, already made, in a tuple of one (see :data:`.blob.Encoded`).
Encoded = tuple[str]


def _same(value: Any) -> Any:
    return value

#: ``name``, ``name[]`` or ``name{}``, then ``?`` if optional; names are plain ASCII, so that
#: they stand in an f-string as they are, one character per byte.
_KEY = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)(?P<kind>\[\]|\{\})?(?P<optional>\?)?")


def _strings(items: Iterable[str]) -> str:
    """The inside of a bencode list of strings."""
    return "".join([f"{len(item)}:{item}" for item in items])


class Entry:
    """A dictionary with fixed keys (see the module docstring); :meth:`maker` makes it."""

    def __init__(self, name: str, *keys: str) -> None:
        self.name = name
        self.keys: list[tuple[str, str, bool]] = []  # (name, kind, optional)
        for key in keys:
            found = _KEY.fullmatch(key)
            if found is None:
                raise ValueError(f"{name}: key {key!r} is not plain ASCII")
            self.keys.append((found["name"], found["kind"] or "", bool(found["optional"])))
        if len({key for key, _, _ in self.keys}) != len(self.keys):
            raise ValueError(f"{name}: a key is given twice")
        self._as_value = self._compile(text=False)
        self._as_text = self._compile(text=True)

    def _compile(self, *, text: bool) -> Callable[..., Any]:
        args = [f"v{i}" for i in range(len(self.keys))]
        if text:
            body = "return (f'd" + "".join(
                self._text(i) for i in sorted(range(len(self.keys)),
                                              key=lambda i: self.keys[i][0])) + "e',)"
        else:
            lines = ["d = {" + ", ".join(f"{key!r}: {self._value(i)}" for i, (key, _, _) in
                                         enumerate(self.keys)) + "}"]
            lines += [f"if v{i} is None: del d[{key!r}]"
                      for i, (key, _, optional) in enumerate(self.keys) if optional]
            body = "\n    ".join([*lines, "return d"])
        namespace: dict[str, Any] = {"_strings": _strings}
        exec(f"def {self.name}({', '.join(args)}):\n    {body}\n", namespace)
        made: Callable[..., Any] = namespace[self.name]
        return made

    def _value(self, i: int) -> str:
        """The expression of key ``i``'s value in the dictionary (a list of strings is copied,
        whatever iterable it came as)."""
        _, kind, optional = self.keys[i]
        if kind != "[]":
            return f"v{i}"
        return f"None if v{i} is None else list(v{i})" if optional else f"list(v{i})"

    def _text(self, i: int) -> str:
        """The f-string part of key ``i`` (the key's text, then its value's)."""
        key, kind, optional = self.keys[i]
        head = f"{len(key)}:{key}"
        if kind == "[]":
            value = f'("{head}l" + _strings(v{i}) + "e" if v{i} else "{head}le")'
        elif kind == "{}":
            value = f'"{head}" + v{i}[0]'
        elif not optional:
            return f"{head}{{len(v{i})}}:{{v{i}}}"
        else:
            value = f'f"{head}{{len(v{i})}}:{{v{i}}}"'
        if optional:
            return f'{{"" if v{i} is None else {value}}}'
        return f"{{{value}}}"

    def maker(self, text: bool) -> Callable[..., Any]:
        """The function of the entry's values (in the order of its keys) that makes it: its
        bencode text (``text``) or its dictionary."""
        return self._as_text if text else self._as_value


#: rtpengine's entries.
HEADER = Entry(
    "header", "created", "destroyed", "last_signal", "tos", "deleted", "num_sfds",
    "num_streams", "num_medias", "num_tags", "num_maps", "ml_deleted", "created_from",
    "created_from_addr", "redis_hosted_db", "recording_metadata", "block_dtmf", "block_media")
SFD = Entry("sfd", "pref_family", "localport", "fd", "logical_intf", "local_intf_uid", "stream")
STREAM = Entry(
    "stream", "media", "sfd", "rtcp_sibling", "last_packet", "ps_flags", "component", "endpoint",
    "advertised_endpoint", "stats-packets", "stats-bytes", "stats-errors")
TAG = Entry("tag", "created", "deleted", "block_dtmf", "block_media", "logical_intf?", "tag?",
            "via-branch?", "label?")
MEDIA = Entry("media", "tag", "index", "type", "format_str", "protocol", "desired_family",
              "logical_intf", "ptime", "media_flags", "media_id?")
MAP = Entry("map", "wildcard", "num_ports", "intf_preferred_family", "logical_intf", "endpoint")

#: rtpgate's own (under ``rtpgate``).
CONTROL = Entry(
    "control", "block_dtmf", "dtmf_mode", "dtmf_digit", "tone_frequency", "tone_volume",
    "delay_buffer", "dtmf_delay", "block_media", "silence_media", "block_media_to[]",
    "silence_media_to[]", "dtmf_trigger{}?")
DTMF_TRIGGER = Entry("dtmf_trigger", "sequence", "mode", "end_sequence", "end_mode", "end_ms",
                     "end_digits", "matched")
TAG_EXTRAS = Entry(
    "tag_extras", "aliases[]", "control{}", "forwarding", "recording", "deleted", "sdp_version",
    "sdp_username", "sdp_session_name", "sdp_session_id", "inject_dtmf", "kind", "unique_id",
    "sources[]?", "last_out_sdp?", "last_in_sdp?")
MEDIA_EXTRAS = Entry(
    "media_extras", "protocol_str", "flags", "codecs[]", "sent_codecs[]", "transcode",
    "prefer[]", "accept[]", "codec_set[]", "fingerprint_hash", "sdes_in[]", "sdes_out[]",
    "codec_transcode[]", "unique_id", "label?", "source?", "ice_ufrag?", "ice_pwd?",
    "remote_ice{}?", "dtls{}?", "encodings[]")
REMOTE_ICE = Entry("remote_ice", "ufrag", "pwd", "candidates[]", "lite")
DTLS = Entry("dtls", "hash", "fingerprint", "setup", "state", "suite", "failure")
STREAM_EXTRAS = Entry("stream_extras", "flags", "stats_out", "ssrcs[]", "resume{}?")


class Makers:
    """What :func:`.shape.serialise` makes a stored call's entries with: values or text."""

    def __init__(self, text: bool) -> None:
        self.text = text
        self.header = HEADER.maker(text)
        self.sfd = SFD.maker(text)
        self.stream = STREAM.maker(text)
        self.tag = TAG.maker(text)
        self.media = MEDIA.maker(text)
        self.map = MAP.maker(text)
        self.control = CONTROL.maker(text)
        self.dtmf_trigger = DTMF_TRIGGER.maker(text)
        self.tag_extras = TAG_EXTRAS.maker(text)
        self.media_extras = MEDIA_EXTRAS.maker(text)
        self.remote_ice = REMOTE_ICE.maker(text)
        self.dtls = DTLS.maker(text)
        self.stream_extras = STREAM_EXTRAS.maker(text)
        #: Any other value, for a ``{}`` key.
        self.made: Callable[[Any], Any] = text_value if text else _same


AS_VALUES = Makers(text=False)
AS_TEXT = Makers(text=True)
