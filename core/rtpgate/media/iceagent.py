"""A full ICE agent (RFC 8445) for one component of one media, on the relay's own sockets.

rtpengine runs a full ICE agent on its media ports, and so does rtpgate for every stream whose
media has ICE: the agent is the stream's STUN handler in its :mod:`~rtpgate.media.pipeline`
(first byte 0-3, RFC 7983).  It

* answers connectivity checks from the peer (``USERNAME`` ``ours:theirs`` and
  ``MESSAGE-INTEGRITY`` with our password, else ``401``; ``400`` without them), learning
  peer-reflexive candidates from checks that come from an address it was not told about;
* resolves role conflicts with the tie-breaker (``487 Role Conflict``, RFC 8445 section 7.3.1.1);
* sends its own checks on every candidate pair (each local address of the stream with each remote
  candidate of the same component and address family), paced every :data:`TA` seconds, each
  retransmitted with doubling timeouts (RFC 8489's RTO, :data:`RTO` .. :data:`MAX_TRIES`), and a
  triggered check for every authenticated request that arrived;
* nominates: as the controlling agent, the highest-priority pair that succeeded (a check with
  ``USE-CANDIDATE``); as the controlled agent, the pair the peer nominated;
* switches the stream's media to the selected pair's remote address (``on_selected``);
* keeps consent (RFC 7675): a check on the selected pair every :data:`CONSENT_INTERVAL` seconds
  (randomised by ±20 %), and consent is lost (``on_lost``) after :data:`CONSENT_TIMEOUT` seconds
  without an answer.

Messages are encoded and decoded by ``aioice.stun``.  Each message the agent sends starts with a
``SOFTWARE`` attribute naming the server (``--software-id``), as rtpengine's do.  An agent
accepts at most :data:`RATE_BURST` requests at once and :data:`RATE` per second after that (a
check flood costs an HMAC each); what is over is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aioice import stun
from aioice.candidate import Candidate

if TYPE_CHECKING:
    from .stream import Address, RelayStream

log = logging.getLogger("rtpgate.media.ice")

#: Pacing of new checks (RFC 8445 section 14.2 allows 50 ms for non-RTP traffic; rtpengine
#: paces at 20 ms per call).
TA = 0.05
#: First retransmission timeout of a check, doubled each time (RFC 8489 section 6.2.1).
RTO = 0.25
#: Transmissions of one check before its pair fails.
MAX_TRIES = 7
CONSENT_INTERVAL = 5.0
CONSENT_TIMEOUT = 30.0
#: Requests accepted per second after the burst (a browser checks a pair every 50 ms at most).
RATE = 100.0
RATE_BURST = 50.0
#: Host candidate type preference (RFC 8445 section 5.1.2.2), peer-reflexive's.
HOST_PREFERENCE = 126
PRFLX_PREFERENCE = 110


def candidate_priority(type_preference: int, local_preference: int, component: int) -> int:
    return (type_preference << 24) | (local_preference << 8) | (256 - component)


def pair_priority(controlling: int, controlled: int) -> int:
    """RFC 8445 section 6.1.2.3: G is the controlling agent's candidate priority."""
    g, d = controlling, controlled
    return (1 << 32) * min(g, d) + 2 * max(g, d) + (1 if g > d else 0)


def parse_candidate(value: str) -> Candidate | None:
    """An ``a=candidate`` value; ``None`` when malformed or not UDP."""
    try:
        candidate = Candidate.from_sdp(value)
    except (ValueError, IndexError):
        return None
    if candidate.transport.lower() != "udp":
        return None
    return candidate


class IceStats:
    """Counters of every agent of the server (read by metrics and the CLI)."""

    __slots__ = ("checks_sent", "completed", "consent_lost", "flood_dropped", "rejected")

    def __init__(self) -> None:
        self.checks_sent = 0
        self.completed = 0  #: agents that selected a pair
        self.consent_lost = 0
        self.rejected = 0  #: requests refused (bad credentials, malformed, bad integrity)
        self.flood_dropped = 0  #: requests over the rate limit


STATS = IceStats()


@dataclass(eq=False)
class Pair:
    local: Address
    remote: Address
    priority: int  #: the remote candidate's
    #: ``frozen``/``waiting``, ``in-progress``, ``succeeded``, ``failed``.
    state: str = "waiting"
    nominated: bool = False
    transaction: bytes | None = None
    tries: int = 0
    use_candidate: bool = False
    timer: asyncio.TimerHandle | None = None
    last_response: float = 0.0
    #: An authenticated check came from ``remote`` on this pair.
    authenticated: bool = False


@dataclass(eq=False)
class Local:
    """One of the stream's local addresses (a socket) and how to send from it."""

    address: Address
    send: Callable[[bytes, Address], object]
    local_preference: int = 65535


def _family(address: Address) -> int:
    return 6 if ":" in address[0] else 4


@dataclass(eq=False)
class IceAgent:
    """The ICE agent of one component.  ``ufrag``/``pwd`` are ours (the SDP we wrote);
    :meth:`set_remote` gives the peer's."""

    ufrag: str
    pwd: str
    component: int
    controlling: bool
    locals: list[Local]
    on_selected: Callable[[Address], None]
    on_lost: Callable[[], None] | None = None
    label: str = ""
    tiebreaker: int = field(default_factory=lambda: secrets.randbits(64))
    remote_ufrag: str | None = None
    remote_pwd: str | None = None
    #: The peer is ICE-lite: it never checks, so we stay controlling (RFC 8445 section 6.1.1).
    remote_lite: bool = False
    #: rtpgate is ICE-lite towards this peer (``ICE-lite=``): it only answers checks and takes
    #: the pair the full peer nominates.
    lite: bool = False
    #: The ``SOFTWARE`` attribute first in every message the agent sends (none when empty).
    software: str = ""
    pairs: list[Pair] = field(default_factory=list)
    selected: Pair | None = None
    #: ``new``, ``checking``, ``completed``, ``failed`` (no pair left), ``disconnected``
    #: (consent lost).
    state: str = "new"
    rejected: int = 0
    flood_dropped: int = 0
    _tokens: float = RATE_BURST
    _token_time: float = 0.0
    _pacer: asyncio.TimerHandle | None = None
    _consent: asyncio.TimerHandle | None = None
    _closed: bool = False

    # ------------------------------------------------------------------ configuration

    def set_remote(self, ufrag: str | None, pwd: str | None, candidates: list[Candidate],
                   lite: bool = False) -> None:
        """The peer's credentials and candidates (from its SDP).  New credentials are an ICE
        restart: every pair starts over."""
        if (ufrag, pwd) != (self.remote_ufrag, self.remote_pwd):
            if self.remote_ufrag is not None:
                log.info("ICE %s: restart (new remote credentials)", self.label)
            self._reset()
            self.remote_ufrag, self.remote_pwd = ufrag, pwd
        self.remote_lite = lite
        if lite:
            self.controlling = True
        self.add_candidates(candidates)

    def restart(self, ufrag: str, pwd: str) -> None:
        """Our credentials changed (an ICE restart we made)."""
        if (ufrag, pwd) == (self.ufrag, self.pwd):
            return
        self.ufrag, self.pwd = ufrag, pwd
        self._reset()

    def add_candidates(self, candidates: list[Candidate]) -> None:
        """Remote candidates (from the SDP, or trickled later)."""
        for candidate in candidates:
            if candidate.component != self.component:
                continue
            self._add_pairs((candidate.host, candidate.port), candidate.priority)
        self._schedule()

    def resume(self, local: Address, remote: Address) -> bool:
        """Carry on with the pair that was selected before a restart (a restored call): it
        counts as checked and nominated, so media and DTLS from ``remote`` are trusted and
        consent is kept from now, without waiting for the peer to nominate again (a
        controlling peer does not, once it has).  False when ``local`` is not one of ours."""
        found = next((loc for loc in self.locals if loc.address == local), None)
        if found is None:
            return False
        pair = self._find(local, remote) or self._add_pair(found, remote, 0)
        if pair.timer is not None:
            pair.timer.cancel()
            pair.timer = None
        pair.transaction = None
        pair.state, pair.nominated, pair.authenticated = "succeeded", True, True
        pair.use_candidate = self.controlling
        pair.last_response = time.monotonic()
        self._select(pair)
        return True

    def close(self) -> None:
        self._closed = True
        for timer in (self._pacer, self._consent):
            if timer is not None:
                timer.cancel()
        for pair in self.pairs:
            if pair.timer is not None:
                pair.timer.cancel()
        self._pacer = self._consent = None

    # ------------------------------------------------------------------ datagrams

    def datagram(self, stream: RelayStream, data: bytes, source: Address) -> None:
        """A STUN datagram from ``source`` arrived on one of the stream's sockets."""
        try:
            message = stun.parse_message(data)
        except ValueError as exc:
            self._reject(f"malformed STUN from {source}: {exc}")
            return
        if message.message_method != stun.Method.BINDING:
            return
        if message.message_class == stun.Class.REQUEST:
            if self._over_rate():
                self.flood_dropped += 1
                STATS.flood_dropped += 1
                if self.flood_dropped in (1, 100, 10000):
                    log.warning("ICE %s: STUN check flood from %s, %d dropped", self.label,
                                source, self.flood_dropped)
                return
            self._request(message, source)
        elif message.message_class in (stun.Class.RESPONSE, stun.Class.ERROR):
            self._response(message, source)

    def _request(self, request: stun.Message, source: Address) -> None:
        local = self._local_for(source)
        username = request.attributes.get("USERNAME")
        if username is None or "MESSAGE-INTEGRITY" not in request.attributes:
            self._reject(f"check from {source} without USERNAME or MESSAGE-INTEGRITY")
            self._send(local, source, self._error(request, 400, "Bad Request"))
            return
        ours, sep, theirs = username.partition(":")
        if (not sep or ours != self.ufrag
                or (self.remote_ufrag is not None and theirs != self.remote_ufrag)
                or not request.check_message_integrity(self.pwd.encode())):
            self._reject(f"check from {source} with wrong credentials or MESSAGE-INTEGRITY")
            self._send(local, source, self._error(request, 401, "Unauthorized"))
            return
        if not self._role_ok(request, local, source):
            return
        reply = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, request.transaction_id,
                             {**self._software(), "XOR-MAPPED-ADDRESS": source})
        reply.add_message_integrity(self.pwd.encode())
        self._send(local, source, bytes(reply))
        pair = self._find(local.address, source) if local is not None else None
        if pair is None and local is not None:
            # a peer-reflexive candidate (RFC 8445 section 7.3.1.3)
            priority = request.attributes.get("PRIORITY", 0)
            pair = self._add_pair(local, source, priority)
            log.info("ICE %s: peer-reflexive candidate %s:%d", self.label, *source)
        if pair is None:
            return
        pair.authenticated = True
        if "USE-CANDIDATE" in request.attributes and not self.controlling:
            pair.nominated = True
            if self.selected is not pair:
                self._select(pair)
        if pair.state in ("waiting", "failed") or (pair.state == "succeeded"
                                                    and self.remote_pwd is None):
            self._check(pair)  # triggered check
        self._schedule()

    def _role_ok(self, request: stun.Message, local: Local | None, source: Address) -> bool:
        """RFC 8445 section 7.3.1.1; False when we answered 487."""
        theirs_controlling = "ICE-CONTROLLING" in request.attributes
        theirs_controlled = "ICE-CONTROLLED" in request.attributes
        if self.controlling and theirs_controlling:
            if self.tiebreaker >= request.attributes["ICE-CONTROLLING"]:
                self._send(local, source, self._error(request, 487, "Role Conflict"))
                return False
            self._switch_role(False)
        elif not self.controlling and theirs_controlled:
            if self.tiebreaker >= request.attributes["ICE-CONTROLLED"]:
                self._switch_role(True)
            else:
                self._send(local, source, self._error(request, 487, "Role Conflict"))
                return False
        return True

    def _response(self, response: stun.Message, source: Address) -> None:
        pair = next((p for p in self.pairs if p.transaction == response.transaction_id), None)
        if pair is None:
            return
        if self.remote_pwd is not None and not response.check_message_integrity(
                self.remote_pwd.encode()):
            self._reject(f"response from {source} with bad MESSAGE-INTEGRITY")
            return
        if pair.timer is not None:
            pair.timer.cancel()
            pair.timer = None
        pair.transaction = None
        if response.message_class == stun.Class.ERROR:
            code = response.error_code
            if code == 487:
                self._switch_role(not self.controlling)
                pair.state = "waiting"
                self._check(pair)
            else:
                pair.state = "failed"
                self._maybe_failed()
            return
        if source != pair.remote:  # RFC 8445 section 7.2.5.2.1: not symmetric
            pair.state = "failed"
            self._maybe_failed()
            return
        pair.state = "succeeded"
        pair.last_response = time.monotonic()
        if self.controlling:
            if pair.use_candidate:
                pair.nominated = True
                if self.selected is None or self.selected.priority < pair.priority \
                        or self.selected is pair:
                    self._select(pair)
            elif not any(p.use_candidate for p in self.pairs) and self._best() is pair:
                pair.use_candidate = True
                self._check(pair)
        elif pair.nominated and self.selected is not pair:
            self._select(pair)

    # ------------------------------------------------------------------ checks

    def _check(self, pair: Pair) -> None:
        if self._closed or self.lite or self.remote_ufrag is None or self.remote_pwd is None:
            return
        if pair.timer is not None:
            pair.timer.cancel()
        pair.state = "in-progress" if pair.state != "succeeded" else pair.state
        pair.tries = 0
        pair.transaction = secrets.token_bytes(12)
        self._transmit(pair)

    def _transmit(self, pair: Pair) -> None:
        pair.timer = None
        if self._closed or pair.transaction is None:
            return
        if pair.tries >= MAX_TRIES:
            pair.transaction = None
            if pair is self.selected:
                return  # consent is judged by its own clock
            pair.state = "failed"
            self._maybe_failed()
            return
        local = next((loc for loc in self.locals if loc.address == pair.local), None)
        if local is None:
            return
        attributes: dict[str, object] = {
            **self._software(),
            "USERNAME": f"{self.remote_ufrag}:{self.ufrag}",
            "PRIORITY": candidate_priority(PRFLX_PREFERENCE, local.local_preference,
                                           self.component),
        }
        if self.controlling:
            attributes["ICE-CONTROLLING"] = self.tiebreaker
            if pair.use_candidate:
                attributes["USE-CANDIDATE"] = None
        else:
            attributes["ICE-CONTROLLED"] = self.tiebreaker
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST, pair.transaction,
                               attributes)
        assert self.remote_pwd is not None
        request.add_message_integrity(self.remote_pwd.encode())
        self._send(local, pair.remote, bytes(request))
        STATS.checks_sent += 1
        pair.tries += 1
        pair.timer = asyncio.get_running_loop().call_later(
            RTO * (1 << (pair.tries - 1)), self._transmit, pair)

    def _schedule(self) -> None:
        if self._pacer is not None or self._closed or self.lite or self.remote_pwd is None:
            return
        if any(p.state == "waiting" for p in self.pairs):
            if self.state == "new":
                self.state = "checking"
            self._pacer = asyncio.get_running_loop().call_later(TA, self._pace)

    def _pace(self) -> None:
        self._pacer = None
        waiting = [p for p in self.pairs if p.state == "waiting"]
        if not waiting:
            return
        self._check(max(waiting, key=lambda p: p.priority))
        self._schedule()

    # ------------------------------------------------------------------ selection, consent

    def _best(self) -> Pair | None:
        succeeded = [p for p in self.pairs if p.state == "succeeded"]
        return max(succeeded, key=lambda p: p.priority) if succeeded else None

    def _select(self, pair: Pair) -> None:
        first = self.selected is None
        self.selected = pair
        pair.last_response = pair.last_response or time.monotonic()
        if self.state != "completed":
            STATS.completed += 1
        self.state = "completed"
        log.info("ICE %s: selected %s:%d -> %s:%d", self.label, *pair.local, *pair.remote)
        self.on_selected(pair.remote)
        if first and not self.lite:  # a lite agent sends no checks; its full peer keeps consent
            self._arm_consent()

    def _arm_consent(self) -> None:
        if self._closed:
            return
        delay = CONSENT_INTERVAL * random.uniform(0.8, 1.2)
        self._consent = asyncio.get_running_loop().call_later(delay, self._consent_check)

    def _consent_check(self) -> None:
        self._consent = None
        pair = self.selected
        if pair is None or self._closed:
            return
        if time.monotonic() - pair.last_response > CONSENT_TIMEOUT:
            STATS.consent_lost += 1
            self.state = "disconnected"
            self.selected = None
            log.warning("ICE %s: consent lost for %s:%d", self.label, *pair.remote)
            if self.on_lost is not None:
                self.on_lost()
            return
        use = pair.use_candidate
        self._check(pair)
        pair.use_candidate = use
        self._arm_consent()

    def trusted(self, remote: Address) -> bool:
        """``remote`` proved it knows the ICE credentials (its check was authenticated, or it
        answered ours): DTLS and media from it may be believed."""
        return any(p.remote == remote and (p.authenticated or p.state == "succeeded")
                   for p in self.pairs)

    # ------------------------------------------------------------------ helpers

    def _reset(self) -> None:
        for pair in self.pairs:
            if pair.timer is not None:
                pair.timer.cancel()
        self.pairs = []
        self.selected = None
        self.state = "new"
        if self._consent is not None:
            self._consent.cancel()
            self._consent = None

    def _switch_role(self, controlling: bool) -> None:
        if controlling != self.controlling:
            log.info("ICE %s: role conflict, now %s", self.label,
                     "controlling" if controlling else "controlled")
            self.controlling = controlling

    def _maybe_failed(self) -> None:
        if self.selected is None and self.pairs and all(p.state == "failed"
                                                        for p in self.pairs):
            self.state = "failed"
            log.warning("ICE %s: every candidate pair failed", self.label)

    def _local_for(self, remote: Address) -> Local | None:
        family = _family(remote)
        return next((loc for loc in self.locals if _family(loc.address) == family), None)

    def _find(self, local: Address, remote: Address) -> Pair | None:
        return next((p for p in self.pairs if p.local == local and p.remote == remote), None)

    def _add_pairs(self, remote: Address, priority: int) -> None:
        for local in self.locals:
            if _family(local.address) == _family(remote) and self._find(local.address,
                                                                       remote) is None:
                self._add_pair(local, remote, priority)

    def _add_pair(self, local: Local, remote: Address, priority: int) -> Pair:
        pair = Pair(local.address, remote, priority)
        self.pairs.append(pair)
        return pair

    def _over_rate(self) -> bool:
        now = time.monotonic()
        self._tokens = min(RATE_BURST, self._tokens + (now - self._token_time) * RATE)
        self._token_time = now
        if self._tokens < 1.0:
            return True
        self._tokens -= 1.0
        return False

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        STATS.rejected += 1
        if self.rejected <= 10 or self.rejected % 1000 == 0:
            log.info("ICE %s: %s (%d refused)", self.label, reason, self.rejected)

    def _send(self, local: Local | None, remote: Address, data: bytes) -> None:
        if local is not None:
            try:
                local.send(data, remote)
            except OSError as exc:
                log.debug("ICE %s: send to %s failed: %s", self.label, remote, exc)

    def _software(self) -> dict[str, object]:
        return {"SOFTWARE": self.software} if self.software else {}

    def _error(self, request: stun.Message, code: int, reason: str) -> bytes:
        reply = stun.Message(stun.Method.BINDING, stun.Class.ERROR, request.transaction_id,
                             {**self._software(), "ERROR-CODE": (code, reason)})
        reply.add_fingerprint()
        return bytes(reply)
